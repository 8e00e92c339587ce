import type { SourceMessage } from '../../types.js';
import { dateTimestamp, fromDecimal, quantity, timestamp } from '../codec.js';
import { scanChanges } from '../changes.js';
import { readAddresses, readParties, readProductCodes, salesOf } from '../lookups.js';
import type { PollOptions } from '../manifest.js';
import { currencyById } from '../refdata.js';
import type { TrytonClient } from '../rpc.js';

/**
 * Customer invoices posted or paid → one message each, amounts in minor
 * units of the invoice's currency, with its lines and the sale it bills.
 */
export async function pollInvoices(client: TrytonClient, cursor: unknown, options: PollOptions, source: string) {
  const scan = await scanChanges(
    client,
    {
      model: 'account.invoice',
      domain: [['type', '=', 'out'], ['state', 'in', ['posted', 'paid']]],
      fields: ['number', 'reference', 'state', 'party', 'invoice_address', 'currency', 'invoice_date', 'untaxed_amount', 'tax_amount', 'total_amount', 'amount_to_pay', 'lines'],
    },
    cursor,
    options,
  );
  const lineIds = scan.rows.flatMap((r) => (r['lines'] as number[] | undefined) ?? []);
  const lines = lineIds.length
    ? await client.model<Array<{ id: number; type: string; product: number | null; description: string | null; quantity: number; unit_price: unknown; amount: unknown }>>(
        'account.invoice.line',
        'read',
        [lineIds, ['type', 'product', 'description', 'quantity', 'unit_price', 'amount']],
      )
    : [];
  const [codes, parties, addresses, sales] = await Promise.all([
    readProductCodes(client, lines.map((l) => l.product)),
    readParties(client, scan.rows.map((r) => r['party'] as number)),
    readAddresses(client, scan.rows.map((r) => r['invoice_address'] as number)),
    salesOf(client, 'invoices', scan.rows.map((r) => r.id)),
  ]);
  const lineById = new Map(lines.map((l) => [l.id, l]));
  const messages: SourceMessage[] = [];
  for (const r of scan.rows) {
    const currency = await currencyById(client, r['currency'] as number);
    const money = (v: unknown) => fromDecimal(v, currency.digits);
    const paid = r['state'] === 'paid';
    messages.push({
      eventId: `${source}:account.invoice:${r.id}:${r.ts}`,
      body: {
        invoice_id: r.id,
        number: r['number'] || null,
        reference: r['reference'] || null,
        state: r['state'],
        status: paid ? 'paid' : 'open',
        currency: currency.code,
        subtotal: money(r['untaxed_amount']),
        tax: money(r['tax_amount']),
        total: money(r['total_amount']),
        amount_due: paid ? 0 : money(r['amount_to_pay'] ?? r['total_amount']),
        issued_at: dateTimestamp(r['invoice_date']) ?? null,
        // Tryton keeps no paid-at of its own: the time the invoice became paid is its last change.
        paid_at: paid ? timestamp(r.ts) : null,
        sale: sales.get(r.id) ?? null,
        customer: parties.get(r['party'] as number) ?? null,
        billing_address: addresses.get(r['invoice_address'] as number) ?? null,
        lines: ((r['lines'] as number[] | undefined) ?? [])
          .map((id) => lineById.get(id))
          .filter((l) => l !== undefined && l.type === 'line')
          .map((l) => ({
            sku: (l!.product !== null ? codes.get(l!.product) : undefined) ?? null,
            description: l!.description || (l!.product !== null ? codes.get(l!.product) : undefined) || 'item',
            quantity: quantity(l!.quantity),
            unit_price: money(l!.unit_price),
            total: money(l!.amount),
          })),
      },
    });
  }
  return { messages, cursor: scan.cursor, more: scan.more };
}
