import type { SourceMessage } from '../../types.js';
import { fromDecimal, timestamp } from '../codec.js';
import { scanChanges } from '../changes.js';
import type { PollOptions } from '../manifest.js';
import { currencyById } from '../refdata.js';
import type { TrytonClient } from '../rpc.js';

/**
 * Sales created or changed → one message each with the states and amounts,
 * and `status`: Tryton's states said in the canonical order's words, for
 * mappings that take it as is.
 */

export function orderStatus(state: string, shipmentState: string): string {
  switch (state) {
    case 'draft':
    case 'quotation':
      return 'pending';
    case 'done':
      return 'completed';
    case 'cancelled':
      return 'cancelled';
    default:
      // confirmed, processing: shipped once its shipments are sent.
      return shipmentState === 'sent' ? 'shipped' : 'confirmed';
  }
}

export async function pollSales(client: TrytonClient, cursor: unknown, options: PollOptions, source: string) {
  const scan = await scanChanges(
    client,
    {
      model: 'sale.sale',
      domain: [],
      fields: ['number', 'reference', 'state', 'shipment_state', 'invoice_state', 'party', 'currency', 'untaxed_amount', 'tax_amount', 'total_amount'],
    },
    cursor,
    options,
  );
  const messages: SourceMessage[] = [];
  for (const r of scan.rows) {
    const currency = await currencyById(client, r['currency'] as number);
    const state = String(r['state']);
    const shipmentState = String(r['shipment_state']);
    messages.push({
      eventId: `${source}:sale.sale:${r.id}:${r.ts}`,
      body: {
        sale_id: r.id,
        number: r['number'] || null,
        reference: r['reference'] || null,
        state,
        shipment_state: shipmentState,
        invoice_state: r['invoice_state'],
        status: orderStatus(state, shipmentState),
        party_id: r['party'],
        currency: currency.code,
        untaxed: fromDecimal(r['untaxed_amount'], currency.digits),
        tax: fromDecimal(r['tax_amount'], currency.digits),
        total: fromDecimal(r['total_amount'], currency.digits),
        changed_at: timestamp(r.ts),
      },
    });
  }
  return { messages, cursor: scan.cursor, more: scan.more };
}
