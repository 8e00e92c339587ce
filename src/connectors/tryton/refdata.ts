import { PermanentError } from '../types.js';
import type { TrytonClient } from './rpc.js';

/**
 * Reference data (units, currencies, countries, the warehouse, the payment
 * term, the product category) looked up by name or code and cached per
 * server, database and user: it changes about never, and each lookup is a
 * round trip every create would otherwise repeat.
 */

const cache = new Map<string, Promise<unknown>>();

export function clearRefData(): void {
  cache.clear();
}

function cached<T>(client: TrytonClient, what: string, load: () => Promise<T>): Promise<T> {
  const key = `${client.cacheKey}\n${what}`;
  let p = cache.get(key) as Promise<T> | undefined;
  if (!p) {
    p = load();
    cache.set(key, p);
    // Not found or not reachable now: ask again next time rather than remember the failure.
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function firstId(client: TrytonClient, model: string, domain: unknown[], what: string): Promise<number> {
  const ids = await client.model<number[]>(model, 'search', [domain, 0, 1, [['id', 'ASC']]]);
  if (!ids[0]) throw new PermanentError(`Tryton has no ${what}`, { summary: client.lastSummary });
  return ids[0];
}

export interface CurrencyInfo {
  id: number;
  code: string;
  digits: number;
}

export function currencyByCode(client: TrytonClient, code: string): Promise<CurrencyInfo> {
  return cached(client, `currency:${code}`, async () => {
    const rows = await client.model<Array<{ id: number; code: string; digits: number }>>('currency.currency', 'search_read', [[['code', '=', code]], 0, 1, null, ['code', 'digits']]);
    const row = rows[0];
    if (!row) throw new PermanentError(`Tryton has no currency ${code}`, { summary: client.lastSummary });
    return { id: row.id, code: row.code, digits: typeof row.digits === 'number' ? row.digits : 2 };
  });
}

export function currencyById(client: TrytonClient, id: number): Promise<CurrencyInfo> {
  return cached(client, `currency#${id}`, async () => {
    const rows = await client.model<Array<{ id: number; code: string; digits: number }>>('currency.currency', 'read', [[id], ['code', 'digits']]);
    const row = rows[0];
    if (!row) throw new PermanentError(`Tryton has no currency ${id}`, { summary: client.lastSummary });
    return { id: row.id, code: row.code, digits: typeof row.digits === 'number' ? row.digits : 2 };
  });
}

/** The company's currency: prices of products are in it. */
export async function companyCurrency(client: TrytonClient): Promise<CurrencyInfo> {
  const company = (await client.context())['company'];
  if (typeof company !== 'number') throw new PermanentError("the Tryton user has no company in its preferences: set the user's current company");
  const id = await cached(client, `company:${company}`, async () => {
    const rows = await client.model<Array<{ currency: number }>>('company.company', 'read', [[company], ['currency']]);
    return rows[0]?.currency ?? 0;
  });
  return currencyById(client, id);
}

/** A country id by ISO code, or undefined when Tryton has none (the address is kept without it). */
export function countryByCode(client: TrytonClient, code: string): Promise<number | undefined> {
  return cached(client, `country:${code}`, async () => {
    const ids = await client.model<number[]>('country.country', 'search', [[['code', '=', code]], 0, 1, null]);
    return ids[0];
  });
}

export function unitId(client: TrytonClient): Promise<number> {
  return cached(client, 'uom:unit', () => firstId(client, 'product.uom', [['symbol', '=', 'u']], 'unit of measure "u"'));
}

export function paymentTermId(client: TrytonClient, name: string | undefined): Promise<number> {
  return cached(client, `term:${name ?? ''}`, () =>
    firstId(client, 'account.invoice.payment_term', name ? [['name', '=', name]] : [], name ? `payment term "${name}"` : 'payment term'),
  );
}

export interface Category {
  id: number;
  customerTaxes: number[];
}

export function categoryByName(client: TrytonClient, name: string): Promise<Category> {
  return cached(client, `category:${name}`, async () => {
    const rows = await client.model<Array<{ id: number; customer_taxes: number[] }>>('product.category', 'search_read', [
      [['name', '=', name], ['accounting', '=', true]],
      0,
      1,
      null,
      ['customer_taxes'],
    ]);
    const row = rows[0];
    if (!row) throw new PermanentError(`Tryton has no accounting product category "${name}"`, { summary: client.lastSummary });
    return { id: row.id, customerTaxes: row.customer_taxes ?? [] };
  });
}

/** Customer taxes of categories by id (read from the category: the template's own tax fields are not RPC fields). */
export async function categoryTaxes(client: TrytonClient, ids: number[]): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  const missing: number[] = [];
  for (const id of new Set(ids)) {
    const hit = cache.get(`${client.cacheKey}\ncategory#${id}`) as Promise<number[]> | undefined;
    if (hit) out.set(id, await hit);
    else missing.push(id);
  }
  if (missing.length) {
    const rows = await client.model<Array<{ id: number; customer_taxes: number[] }>>('product.category', 'read', [missing, ['customer_taxes']]);
    for (const r of rows) {
      out.set(r.id, r.customer_taxes ?? []);
      cache.set(`${client.cacheKey}\ncategory#${r.id}`, Promise.resolve(r.customer_taxes ?? []));
    }
  }
  return out;
}

export interface Warehouse {
  id: number;
  code: string;
  name: string;
}

export function warehouses(client: TrytonClient): Promise<Warehouse[]> {
  return cached(client, 'warehouses', () =>
    client.model<Warehouse[]>('stock.location', 'search_read', [[['type', '=', 'warehouse']], 0, null, [['id', 'ASC']], ['code', 'name']]),
  );
}

export async function warehouseByCode(client: TrytonClient, code: string | undefined): Promise<Warehouse> {
  const all = await warehouses(client);
  const found = code === undefined ? all[0] : all.find((w) => w.code === code);
  if (!found) throw new PermanentError(code === undefined ? 'Tryton has no warehouse' : `Tryton has no warehouse with code "${code}"`);
  return found;
}
