import { PermanentError } from '../types.js';
import { fromDecimal, toDecimal } from './codec.js';
import { upsertCustomer } from './customer.js';
import type { SaleInput, SaleOptions, SaleOutput, TrytonConfig } from './manifest.js';
import { productsByCode, upsertProduct, type ProductRow } from './product.js';
import { categoryTaxes, companyCurrency, currencyByCode, currencyById, paymentTermId, unitId, warehouseByCode } from './refdata.js';
import type { TrytonClient } from './rpc.js';

/**
 * A canonical order → a confirmed Tryton sale. Idempotent by the sale's
 * `reference` (the order's number): every step first looks at what an
 * earlier attempt left (a draft, a quotation) and carries on from there, so
 * a timeout after Tryton committed, or a repeated delivery, never makes a
 * second sale.
 */

interface SaleRow {
  id: number;
  number: string | null;
  reference: string;
  state: string;
  party: number;
  currency: number;
  untaxed_amount: unknown;
  tax_amount: unknown;
  total_amount: unknown;
}

const SALE_FIELDS = ['number', 'reference', 'state', 'party', 'currency', 'untaxed_amount', 'tax_amount', 'total_amount'];

export async function findSaleByReference(client: TrytonClient, reference: string): Promise<SaleRow | undefined> {
  const rows = await client.model<SaleRow[]>('sale.sale', 'search_read', [[['reference', '=', reference]], 0, 10, [['id', 'ASC']], SALE_FIELDS]);
  // A live sale first; a cancelled one still counts: a later version of a cancelled order makes no new sale.
  return rows.find((r) => r.state !== 'cancelled') ?? rows[0];
}

async function products(client: TrytonClient, config: TrytonConfig, input: SaleInput, options: SaleOptions): Promise<Map<string, ProductRow>> {
  const found = await productsByCode(client, input.lines.map((l) => l.sku));
  const missing = [...new Set(input.lines.map((l) => l.sku).filter((s) => !found.has(s)))];
  if (missing.length === 0) return found;
  if ((options.unknown_products ?? 'error') === 'error') {
    throw new PermanentError(`Tryton does not know the product${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (create them first, or set unknown_products: create)`, {
      summary: client.lastSummary,
    });
  }
  const company = await companyCurrency(client);
  for (const sku of missing) {
    const line = input.lines.find((l) => l.sku === sku)!;
    // The line's price becomes the list price only when it is in the company's currency.
    await upsertProduct(client, config, { sku, name: line.name ?? sku, ...(input.currency === company.code ? { price: line.unit_price } : {}) });
  }
  return productsByCode(client, input.lines.map((l) => l.sku));
}

async function createDraft(client: TrytonClient, config: TrytonConfig, input: SaleInput, options: SaleOptions): Promise<number> {
  // Independent lookups in parallel: each is a round trip, and a sale needs about ten.
  const [currency, party, byCode, unit, term, warehouse] = await Promise.all([
    currencyByCode(client, input.currency),
    upsertCustomer(client, input.customer),
    products(client, config, input, options),
    unitId(client),
    paymentTermId(client, config.payment_term),
    warehouseByCode(client, config.warehouse),
  ]);
  if (party.address_id === null) throw new PermanentError(`customer ${input.customer.ref} has no address in Tryton`);
  const withTaxes = (options.taxes ?? 'category') === 'category';
  const taxes = withTaxes ? await categoryTaxes(client, [...byCode.values()].map((p) => p.category).filter((c): c is number => c !== null)) : new Map<number, number[]>();
  // On-change logic does not run over RPC: unit, price, taxes and both addresses are sent, not defaulted.
  const lines = input.lines.map((l) => {
    const product = byCode.get(l.sku)!;
    const lineTaxes = product.category === null ? [] : (taxes.get(product.category) ?? []);
    return {
      type: 'line',
      product: product.id,
      quantity: l.quantity,
      unit,
      unit_price: toDecimal(l.unit_price, currency.digits),
      description: l.name ?? l.sku,
      ...(lineTaxes.length ? { taxes: [['add', lineTaxes]] } : {}),
    };
  });
  const [id] = await client.model<number[]>('sale.sale', 'create', [
    [
      {
        party: party.party_id,
        invoice_address: party.address_id,
        shipment_address: party.address_id,
        payment_term: term,
        currency: currency.id,
        warehouse: warehouse.id,
        reference: input.reference,
        ...(input.description ? { description: input.description } : {}),
        lines: [['create', lines]],
      },
    ],
  ]);
  return id!;
}

export async function createSale(client: TrytonClient, config: TrytonConfig, input: SaleInput, options: SaleOptions): Promise<SaleOutput> {
  let sale = await findSaleByReference(client, input.reference);
  const created = sale === undefined;
  const id = sale?.id ?? (await createDraft(client, config, input, options));
  if (options.confirm ?? true) {
    let state = sale?.state ?? 'draft';
    // Each button moves one step; an earlier attempt may have stopped after any of them.
    if (state === 'draft') {
      await client.model('sale.sale', 'quote', [[id]]);
      state = 'quotation';
    }
    // confirm also processes the sale (shipment and invoice) in the same request when no worker queue is configured.
    if (state === 'quotation') await client.model('sale.sale', 'confirm', [[id]]);
  }
  [sale] = await client.model<SaleRow[]>('sale.sale', 'read', [[id], SALE_FIELDS]);
  if (!sale) throw new PermanentError(`Tryton sale ${id} disappeared while it was being confirmed`);
  const currency = await currencyById(client, sale.currency);
  return {
    sale_id: sale.id,
    number: sale.number ?? null,
    reference: sale.reference,
    state: sale.state,
    party_id: sale.party,
    currency: currency.code,
    untaxed: fromDecimal(sale.untaxed_amount, currency.digits),
    tax: fromDecimal(sale.tax_amount, currency.digits),
    total: fromDecimal(sale.total_amount, currency.digits),
    created,
  };
}
