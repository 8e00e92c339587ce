import type { Hub } from '../../src/hub.js';
import { SHOP_KEY } from './project.js';

/**
 * A project with a shop that posts customers and an ERP behind `erpUrl`; `flows` is YAML under `flows:`.
 * `erpDelivery` adds keys to the ERP's `delivery:` (flow style), e.g. `rate_limit: { per_second: 20 }`.
 */
export function flowProject(erpUrl: string, flows: string, extraSystems = '', erpDelivery = ''): string {
  return `
version: 1
name: flow-test
systems:
  shop:
    kind: webhook
    auth:
      api_key: ${SHOP_KEY}
    owns: [customer, order]
    topics:
      customers:
        mapping: mappings/customer.jsonata
        event_id: event.id
  erp:
    kind: http
    personal_data: allowed
    config:
      base_url: ${erpUrl}
    delivery: { circuit: { failures: 3, cooldown_seconds: 0.5 }${erpDelivery ? `, ${erpDelivery}` : ''} }
${extraSystems}
flows:
${flows}
`;
}

export const FAST_RETRY = `retry: { attempts: 4, base_delay_ms: 50, max_delay_ms: 400, jitter: 0 }`;

/** Posts one customer as the shop; returns the inbox answer. */
export async function postCustomer(hub: Hub, id: string, fields: Record<string, unknown> = {}, eventId?: string) {
  const res = await hub.app.inject({
    method: 'POST',
    url: '/v1/inbound/shop/customers',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SHOP_KEY}` },
    payload: JSON.stringify({ id, email: `${id.toLowerCase()}@example.com`, first_name: 'Ada', last_name: 'Lovelace', ...fields, event: { id: eventId ?? `evt-${id}-${Math.random()}` } }),
  });
  if (res.statusCode !== 202 && res.statusCode !== 200) throw new Error(`inbound answered ${res.statusCode}: ${res.body}`);
  return res.json() as { id: number; trace_id: string };
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
