import { asObject, header, type DemoReply } from './server.js';
import { signWebhook } from './signing.js';
import { credentialProblem, postToHub, type StandIn, type StandInContext } from './stand-in.js';

/**
 * The online store. Orders start here: it posts them to the hub as signed
 * Standard Webhooks (new, then paid), the way a shop platform does. It
 * receives stock levels back (PUT /inventory/{sku}) so it stops selling what
 * the warehouse does not have.
 */

/** An order as the store's webhook sends it (mappings/store-order.jsonata reads this). */
export interface StoreOrder {
  id: number;
  number: string;
  financial_status: 'pending' | 'paid';
  currency: string;
  created_at: string;
  paid_at?: string;
  customer: { id: number; email: string; first_name: string; last_name: string };
  line_items: Array<{ sku: string; title: string; quantity: number; price: string }>;
  shipping_price: string;
  total_price: string;
  shipping_address?: { name: string; address1: string; city: string; zip: string; country_code: string };
}

export interface Sent {
  status: number;
  traceId: string | undefined;
  error: string | undefined;
}

export interface Store extends StandIn {
  orders: Map<number, StoreOrder>;
  /** Available stock per SKU, as the hub last told us. */
  inventory: Map<string, number>;
  placeOrder(order: StoreOrder): Promise<Sent>;
  markPaid(id: number): Promise<Sent>;
}

export function createStore(ctx: StandInContext): Store {
  const orders = new Map<number, StoreOrder>();
  const inventory = new Map<string, number>();

  async function send(order: StoreOrder, what: string): Promise<Sent> {
    const eventId = `evt_${order.id}_${order.financial_status}`;
    const raw = JSON.stringify({ event_id: eventId, ...order });
    const about = `order ${order.number} ${what} (${order.financial_status}, ${order.total_price} ${order.currency.toUpperCase()}, ${order.customer.email})`;
    try {
      const res = await postToHub(ctx, '/v1/inbound/store/orders', raw, signWebhook(eventId, raw, ctx.settings.storeWebhookSecret));
      const traceId = typeof res.body['trace_id'] === 'string' ? res.body['trace_id'] : undefined;
      const error = res.status >= 300 ? JSON.stringify(res.body['error'] ?? res.body) : undefined;
      ctx.log('store', `→ hub  ${about}  ${res.status}${traceId ? ` ${String(res.body['status'])}, trace ${traceId.slice(0, 8)}…` : ''}${error ? ` ${error}` : ''}`);
      return { status: res.status, traceId, error };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      ctx.log('store', `→ hub  ${about}  failed: ${error}`);
      return { status: 0, traceId: undefined, error };
    }
  }

  function setInventory(sku: string, body: unknown): DemoReply {
    const available = asObject(body)?.['available'];
    if (typeof available !== 'number' || !Number.isInteger(available)) return { status: 422, body: { error: 'available must be a whole number' }, note: 'refused: no available count' };
    const was = inventory.get(sku);
    inventory.set(sku, available);
    return { status: 200, body: { sku, available }, note: `stock ${sku}: ${available} available${was === undefined ? '' : ` (was ${was})`}` };
  }

  return {
    name: 'store',
    orders,
    inventory,
    refuse: (req) => (req.method === 'GET' ? undefined : credentialProblem(header(req.headers, 'x-store-access-token'), ctx.settings.storeAccessToken, 'X-Store-Access-Token')),
    routes: [
      { method: 'PUT', pattern: /^\/inventory\/([^/]+)$/, handle: (req, [sku]) => setInventory(sku ?? '', req.body) },
      { method: 'GET', pattern: /^\/$/, handle: () => ({ status: 200, body: { orders: [...orders.values()], inventory: Object.fromEntries(inventory) } }) },
    ],
    placeOrder(order) {
      orders.set(order.id, order);
      return send(order, 'placed');
    },
    markPaid(id) {
      const order = orders.get(id);
      if (!order) throw new Error(`the store has no order ${id}`);
      const paid: StoreOrder = { ...order, financial_status: 'paid', paid_at: new Date().toISOString() };
      orders.set(id, paid);
      return send(paid, 'paid');
    },
  };
}
