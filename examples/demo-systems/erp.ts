import { asArray, asObject, asString, header, short, type DemoReply, type DemoRequest } from './server.js';
import { credentialProblem, type StandIn, type StandInContext } from './stand-in.js';

/**
 * The ERP: customers and sales orders, upserted by the hub's id (`ref`), so
 * the same call twice changes nothing. It answers with its own numbers
 * (C-…, SO-…), which the hub keeps as cross-references.
 *
 * Like many a real ERP it is not always there: the first new request and
 * every `failEvery`-th after it are answered 503 with Retry-After: 1 once,
 * and the hub's retry goes through. It refuses (422) an order with an item it does not sell —
 * a permanent error, so that delivery becomes a dead letter.
 */

export interface ErpCustomer {
  number: string;
  ref: string;
  email: string | undefined;
  name: string | undefined;
}

export interface SalesOrder {
  number: string;
  ref: string;
  order_number: string;
  status: string;
  customer_number: string | undefined;
  lines: Array<{ item: string; qty: number; unit_price: number }>;
  total: number;
  currency: string;
}

export interface Erp extends StandIn {
  customers: Map<string, ErpCustomer>;
  salesOrders: Map<string, SalesOrder>;
  /** How many requests were answered 503 on purpose. */
  readonly hiccups: number;
}

/** What the ERP sells; anything else is refused. */
export const ERP_ITEMS = new Set(['MUG-BLUE', 'TEE-L', 'CAP-RED', 'BAG-TOTE']);

export function createErp(ctx: StandInContext, options: { failEvery: number; seed: number }): Erp {
  const customers = new Map<string, ErpCustomer>();
  const salesOrders = new Map<string, SalesOrder>();
  const seenKeys = new Set<string>();
  let requests = 0;
  let hiccups = 0;
  let nextCustomer = options.seed;
  let nextOrder = options.seed;

  /** A 503 for some new keys, once: the retry (same key) goes through. */
  function hiccup(req: DemoRequest): DemoReply | undefined {
    const key = header(req.headers, 'idempotency-key');
    if (!key || seenKeys.has(key)) return undefined;
    seenKeys.add(key);
    requests++;
    // The first new request, then every failEvery-th: each run shows at least one retry.
    if (options.failEvery <= 0 || (requests - 1) % options.failEvery !== 0) return undefined;
    hiccups++;
    return { status: 503, headers: { 'retry-after': '1' }, body: { error: 'busy, try again' }, note: 'busy (a deliberate hiccup: the hub retries in 1 s)' };
  }

  function upsertCustomer(ref: string, email: string | undefined, name: string | undefined): { customer: ErpCustomer; created: boolean } {
    const found = customers.get(ref);
    if (found) {
      if (email) found.email = email;
      if (name) found.name = name;
      return { customer: found, created: false };
    }
    const customer = { number: `C-${nextCustomer++}`, ref, email, name };
    customers.set(ref, customer);
    return { customer, created: true };
  }

  function putCustomer(req: DemoRequest, ref: string): DemoReply {
    const busy = hiccup(req);
    if (busy) return busy;
    const body = asObject(req.body) ?? {};
    const { customer, created } = upsertCustomer(ref, asString(body['email']), asString(body['name']));
    return { status: created ? 201 : 200, body: customer, note: `customer ${customer.number} ${created ? 'created' : 'updated'} (${customer.email ?? 'no email'})` };
  }

  /** The hub's erasure request (systems.erp.erasure): the customer's name and email go; its number stays on the sales orders. */
  function eraseCustomer(ref: string): DemoReply {
    const found = customers.get(ref);
    if (!found) return { status: 404, body: { error: { code: 'not_found', message: `no customer ${ref}` } }, note: `erase ${short(ref)}: not here` };
    found.email = undefined;
    found.name = undefined;
    return { status: 200, body: { number: found.number, erased: true }, note: `customer ${found.number} erased (name and email removed)` };
  }

  function putSalesOrder(req: DemoRequest, ref: string): DemoReply {
    const busy = hiccup(req);
    if (busy) return busy;
    const body = asObject(req.body) ?? {};
    const lines = asArray(body['lines']).map((l) => asObject(l) ?? {});
    const unknown = lines.map((l) => asString(l['item']) ?? '(none)').filter((item) => !ERP_ITEMS.has(item));
    if (lines.length === 0 || unknown.length > 0) {
      const why = lines.length === 0 ? 'a sales order needs lines' : `unknown item ${unknown.join(', ')}`;
      return { status: 422, body: { error: { code: 'unknown_item', message: why } }, note: `refused ${String(body['order_number'])}: ${why} (a permanent error: dead letter)` };
    }
    // The customer comes along by reference; whichever call arrives first creates it.
    const c = asObject(body['customer']);
    const customerRef = asString(c?.['ref']);
    const customer = customerRef ? upsertCustomer(customerRef, asString(c?.['email']), asString(c?.['name'])).customer : undefined;
    const found = salesOrders.get(ref);
    const order: SalesOrder = {
      number: found?.number ?? `SO-${nextOrder++}`,
      ref,
      order_number: asString(body['order_number']) ?? ref,
      status: asString(body['status']) ?? 'pending',
      customer_number: customer?.number,
      lines: lines.map((l) => ({ item: String(l['item']), qty: Number(l['qty']), unit_price: Number(l['unit_price']) })),
      total: Number(body['total']),
      currency: asString(body['currency']) ?? 'EUR',
    };
    salesOrders.set(ref, order);
    const what = found ? (found.status !== order.status ? `now ${order.status}` : 'updated') : `created for ${order.customer_number ?? 'no customer'}`;
    return {
      status: found ? 200 : 201,
      body: order,
      note: `sales order ${order.number} (${order.order_number}, ${short(ref)}) ${what}, ${order.total.toFixed(2)} ${order.currency}`,
    };
  }

  return {
    name: 'erp',
    customers,
    salesOrders,
    get hiccups() {
      return hiccups;
    },
    refuse: (req) => {
      if (req.method === 'GET') return undefined;
      const auth = header(req.headers, 'authorization');
      return credentialProblem(auth?.startsWith('Bearer ') ? auth.slice(7) : undefined, ctx.settings.erpToken, 'bearer token');
    },
    routes: [
      { method: 'PUT', pattern: /^\/customers\/([^/]+)$/, handle: (req, [ref]) => putCustomer(req, ref ?? '') },
      { method: 'DELETE', pattern: /^\/customers\/([^/]+)$/, handle: (_req, [ref]) => eraseCustomer(ref ?? '') },
      { method: 'PUT', pattern: /^\/sales-orders\/([^/]+)$/, handle: (req, [ref]) => putSalesOrder(req, ref ?? '') },
      { method: 'GET', pattern: /^\/$/, handle: () => ({ status: 200, body: { customers: [...customers.values()], sales_orders: [...salesOrders.values()] } }) },
    ],
  };
}
