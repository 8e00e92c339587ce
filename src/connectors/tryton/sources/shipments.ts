import type { SourceMessage } from '../../types.js';
import { dateText, quantity, timestamp } from '../codec.js';
import { scanChanges } from '../changes.js';
import { readAddresses, readParties, readProductCodes, salesOf } from '../lookups.js';
import type { PollOptions } from '../manifest.js';
import type { TrytonClient } from '../rpc.js';

/**
 * Customer shipments that reached `done` → one message each: what left
 * (SKU and quantity of the outgoing moves), to whom, and the sale it ships.
 * A done shipment changed again later (a note added) is a new event; the
 * record's content hash makes it no new version when nothing canonical moved.
 */
export async function pollShipments(client: TrytonClient, cursor: unknown, options: PollOptions, source: string) {
  const scan = await scanChanges(
    client,
    {
      model: 'stock.shipment.out',
      domain: [['state', '=', 'done']],
      fields: ['number', 'reference', 'state', 'customer', 'delivery_address', 'effective_date', 'outgoing_moves'],
    },
    cursor,
    options,
  );
  const ids = scan.rows.map((r) => r.id);
  const moveIds = scan.rows.flatMap((r) => (r['outgoing_moves'] as number[] | undefined) ?? []);
  const moves = moveIds.length
    ? await client.model<Array<{ id: number; product: number; quantity: number; state: string }>>('stock.move', 'read', [moveIds, ['product', 'quantity', 'state']])
    : [];
  const [codes, parties, addresses, sales] = await Promise.all([
    readProductCodes(client, moves.map((m) => m.product)),
    readParties(client, scan.rows.map((r) => r['customer'] as number)),
    readAddresses(client, scan.rows.map((r) => r['delivery_address'] as number)),
    salesOf(client, 'shipments', ids),
  ]);
  const moveById = new Map(moves.map((m) => [m.id, m]));
  const messages: SourceMessage[] = scan.rows.map((r) => {
    const lines = new Map<string, number>();
    for (const id of (r['outgoing_moves'] as number[] | undefined) ?? []) {
      const m = moveById.get(id);
      const sku = m && m.state === 'done' ? codes.get(m.product) : undefined;
      if (sku) lines.set(sku, (lines.get(sku) ?? 0) + quantity(m!.quantity));
    }
    return {
      eventId: `${source}:stock.shipment.out:${r.id}:${r.ts}`,
      body: {
        shipment_id: r.id,
        number: r['number'] || null,
        reference: r['reference'] || null,
        state: r['state'],
        effective_date: dateText(r['effective_date']) ?? null,
        shipped_at: timestamp(r.ts),
        sale: sales.get(r.id) ?? null,
        customer: parties.get(r['customer'] as number) ?? null,
        ship_to: addresses.get(r['delivery_address'] as number) ?? null,
        lines: [...lines].map(([sku, qty]) => ({ sku, quantity: qty })),
      },
    };
  });
  return { messages, cursor: scan.cursor, more: scan.more };
}
