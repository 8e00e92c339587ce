import { randomUUID } from 'node:crypto';
import { asArray, asObject, asString, short, type DemoReply, type DemoRequest } from './server.js';
import { webhookProblem } from './signing.js';
import { postToHub, type StandIn, type StandInContext } from './stand-in.js';

/**
 * The warehouse. It receives fulfillment orders from the hub as signed
 * webhooks (POST /fulfillment-orders), reserves the stock, and reports the
 * new levels to the hub (POST /v1/inbound/warehouse/stock with its API key),
 * which sends them on to the store. `restock` is a delivery arriving.
 */

export interface Stock {
  on_hand: number;
  reserved: number;
}

export interface Fulfillment {
  fulfillment_id: string;
  order_ref: string;
  order_number: string;
  lines: Array<{ sku: string; quantity: number }>;
}

export interface Warehouse extends StandIn {
  stock: Map<string, Stock>;
  fulfillments: Map<string, Fulfillment>;
  /** Stock reports the hub accepted. */
  readonly reports: number;
  restock(sku: string, quantity: number): Promise<void>;
}

const LOCATION = 'main';

export function createWarehouse(ctx: StandInContext, options: { seed: number }): Warehouse {
  const stock = new Map<string, Stock>([
    ['MUG-BLUE', { on_hand: 40, reserved: 0 }],
    ['TEE-L', { on_hand: 12, reserved: 0 }],
    ['CAP-RED', { on_hand: 25, reserved: 0 }],
    ['BAG-TOTE', { on_hand: 8, reserved: 0 }],
  ]);
  const fulfillments = new Map<string, Fulfillment>();
  const sending = new Set<Promise<void>>();
  let reports = 0;
  let next = options.seed;

  async function report(skus: string[]): Promise<void> {
    const items = skus.flatMap((sku) => {
      const s = stock.get(sku);
      return s ? [{ sku, on_hand: s.on_hand, reserved: s.reserved }] : [];
    });
    if (items.length === 0) return;
    const raw = JSON.stringify({ warehouse: LOCATION, counted_at: new Date().toISOString(), items });
    const about = `stock ${items.map((i) => `${i.sku} ${i.on_hand - i.reserved}`).join(', ')} available`;
    // One key for every try: the hub takes a repeat as the same message.
    const key = `stock-${randomUUID()}`;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const res = await postToHub(ctx, '/v1/inbound/warehouse/stock', raw, { 'x-api-key': ctx.settings.warehouseApiKey, 'idempotency-key': key });
        ctx.log('warehouse', `→ hub  ${about}  ${res.status}${res.status >= 300 ? ` ${JSON.stringify(res.body['error'] ?? res.body)}` : ''}`);
        if (res.status < 300) reports++;
        if (res.status < 500) return;
      } catch (e) {
        ctx.log('warehouse', `→ hub  ${about}  failed: ${e instanceof Error ? e.message : String(e)}${attempt < 3 ? ', trying again' : ''}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Reports in the background (after answering the hub), remembered so `idle` can wait for them. */
  function reportSoon(skus: string[]): Promise<void> {
    const p = report(skus).finally(() => sending.delete(p));
    sending.add(p);
    return p;
  }

  function fulfill(req: DemoRequest): DemoReply {
    const bad = webhookProblem(req.raw, req.headers, ctx.settings.warehouseWebhookSecret);
    if (bad) return { status: 401, body: { error: bad }, note: `refused: ${bad}` };
    const body = asObject(req.body) ?? {};
    const ref = asString(body['order_ref']);
    if (!ref) return { status: 422, body: { error: 'order_ref is missing' }, note: 'refused: no order_ref' };
    const known = fulfillments.get(ref);
    if (known) return { status: 200, body: known, note: `fulfillment ${known.fulfillment_id} already exists for ${known.order_number}` };
    const lines = asArray(body['lines']).flatMap((l) => {
      const o = asObject(l);
      const sku = asString(o?.['sku']);
      return sku && typeof o?.['quantity'] === 'number' ? [{ sku, quantity: o['quantity'] }] : [];
    });
    const f: Fulfillment = { fulfillment_id: `WH-${next++}`, order_ref: ref, order_number: asString(body['order_number']) ?? ref, lines };
    fulfillments.set(ref, f);
    const reserved: string[] = [];
    for (const l of lines) {
      const s = stock.get(l.sku);
      if (!s) continue; // not a stocked item (a gift card, say): nothing to pick
      s.reserved += l.quantity;
      reserved.push(l.sku);
    }
    void reportSoon(reserved);
    const what = reserved.length ? `reserved ${lines.filter((l) => stock.has(l.sku)).map((l) => `${l.quantity} × ${l.sku}`).join(', ')}` : 'nothing to reserve';
    return { status: 201, body: f, note: `fulfillment ${f.fulfillment_id} for ${f.order_number} (${short(ref)}): ${what}` };
  }

  return {
    name: 'warehouse',
    stock,
    fulfillments,
    get reports() {
      return reports;
    },
    routes: [
      { method: 'POST', pattern: /^\/fulfillment-orders$/, handle: (req) => fulfill(req) },
      { method: 'GET', pattern: /^\/$/, handle: () => ({ status: 200, body: { stock: Object.fromEntries(stock), fulfillments: [...fulfillments.values()] } }) },
    ],
    async restock(sku, quantity) {
      const s = stock.get(sku) ?? { on_hand: 0, reserved: 0 };
      s.on_hand += quantity;
      stock.set(sku, s);
      ctx.log('warehouse', `   a delivery arrived: ${quantity} × ${sku}, ${s.on_hand} on hand`);
      await reportSoon([sku]);
    },
    async idle() {
      while (sending.size > 0) await Promise.allSettled([...sending]);
    },
  };
}
