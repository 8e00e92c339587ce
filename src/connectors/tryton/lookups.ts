import type { TrytonClient } from './rpc.js';

/**
 * Batched reads the sources share: a page of shipments or invoices needs
 * its parties, addresses, products and sales, each read once per page
 * rather than once per record.
 */

export interface PartyInfo {
  party_id: number;
  name: string;
  email: string | null;
  /** Tryton's own party code (numbered by Tryton). */
  code: string;
}

export interface CanonicalAddress {
  name?: string;
  company?: string;
  line1: string;
  line2?: string;
  city: string;
  postal_code?: string;
  country: string;
}

export interface SaleRef {
  sale_id: number;
  number: string | null;
  reference: string | null;
}

const unique = (ids: Array<number | null | undefined>): number[] => [...new Set(ids.filter((i): i is number => typeof i === 'number'))];

export async function readParties(client: TrytonClient, ids: Array<number | null | undefined>): Promise<Map<number, PartyInfo>> {
  const list = unique(ids);
  if (!list.length) return new Map();
  const rows = await client.model<Array<{ id: number; name: string; email: string | null; code: string }>>('party.party', 'read', [list, ['name', 'email', 'code']], {
    active_test: false,
  });
  return new Map(rows.map((r) => [r.id, { party_id: r.id, name: r.name, email: r.email || null, code: r.code }]));
}

/** Addresses as canonical addresses; one without a street, city or country is left out (the canonical shape requires them). */
export async function readAddresses(client: TrytonClient, ids: Array<number | null | undefined>): Promise<Map<number, CanonicalAddress>> {
  const list = unique(ids);
  if (!list.length) return new Map();
  const rows = await client.model<
    Array<{ id: number; party_name: string | null; name: string | null; street: string | null; city: string | null; postal_code: string | null; country: number | null }>
  >('party.address', 'read', [list, ['party_name', 'name', 'street', 'city', 'postal_code', 'country']], { active_test: false });
  const countries = unique(rows.map((r) => r.country));
  const codes = countries.length
    ? new Map((await client.model<Array<{ id: number; code: string }>>('country.country', 'read', [countries, ['code']])).map((c) => [c.id, c.code]))
    : new Map<number, string>();
  const out = new Map<number, CanonicalAddress>();
  for (const r of rows) {
    const [line1, ...rest] = (r.street ?? '').split('\n').filter((l) => l.trim());
    const country = r.country === null ? undefined : codes.get(r.country);
    if (!line1 || !r.city || !country) continue;
    out.set(r.id, {
      ...(r.party_name ? { name: r.party_name } : {}),
      ...(r.name ? { company: r.name } : {}),
      line1,
      ...(rest.length ? { line2: rest.join(', ') } : {}),
      city: r.city,
      ...(r.postal_code ? { postal_code: r.postal_code } : {}),
      country,
    });
  }
  return out;
}

export async function readProductCodes(client: TrytonClient, ids: Array<number | null | undefined>): Promise<Map<number, string>> {
  const list = unique(ids);
  if (!list.length) return new Map();
  const rows = await client.model<Array<{ id: number; code: string | null }>>('product.product', 'read', [list, ['code']], { active_test: false });
  return new Map(rows.filter((r) => r.code).map((r) => [r.id, r.code!]));
}

/** The sale each shipment or invoice came from, by a reverse search on the sale's `shipments` / `invoices`. */
export async function salesOf(client: TrytonClient, field: 'shipments' | 'invoices', ids: number[]): Promise<Map<number, SaleRef>> {
  if (!ids.length) return new Map();
  const rows = await client.model<Array<{ id: number; number: string | null; reference: string | null } & Record<string, unknown>>>('sale.sale', 'search_read', [
    [[field, 'in', ids]],
    0,
    null,
    [['id', 'ASC']],
    ['number', 'reference', field],
  ]);
  const out = new Map<number, SaleRef>();
  for (const r of rows) {
    for (const id of (r[field] as number[] | undefined) ?? []) {
      if (ids.includes(id) && !out.has(id)) out.set(id, { sale_id: r.id, number: r.number || null, reference: r.reference || null });
    }
  }
  return out;
}
