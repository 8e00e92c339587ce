import type { SourceMessage } from '../../types.js';
import { quantity, timestamp } from '../codec.js';
import { scanChanges } from '../changes.js';
import type { StockOptions } from '../manifest.js';
import { warehouses } from '../refdata.js';
import type { TrytonClient } from '../rpc.js';
import { PermanentError } from '../../types.js';

/**
 * Stock levels. Tryton computes quantities from stock moves and keeps no
 * level with a write date, so this polls the moves: every product with a
 * move created or changed since the cursor gets its level read again, per
 * warehouse (quantities with `locations: [warehouse]` in the context count
 * its child locations). `on_hand` is Tryton's quantity (done moves),
 * `available` its forecast (planned moves too, so a confirmed sale's goods
 * are no longer available), `reserved` the difference when positive.
 */
export async function pollStock(client: TrytonClient, cursor: unknown, options: StockOptions, source: string) {
  const scan = await scanChanges(client, { model: 'stock.move', domain: [], fields: ['product'] }, cursor, options);
  const all = await warehouses(client);
  const chosen = options.warehouses ? all.filter((w) => options.warehouses!.includes(w.code)) : all;
  if (options.warehouses && chosen.length !== options.warehouses.length) {
    const known = new Set(all.map((w) => w.code));
    throw new PermanentError(`Tryton has no warehouse with code ${options.warehouses.filter((c) => !known.has(c)).join(', ')}`);
  }
  const changedAt = new Map<number, string>();
  for (const r of scan.rows) {
    const p = r['product'] as number;
    if (!changedAt.has(p) || changedAt.get(p)! < r.ts) changedAt.set(p, r.ts);
  }
  const products = [...changedAt.keys()];
  const messages: SourceMessage[] = [];
  if (products.length) {
    for (const wh of chosen) {
      const levels = await client.model<Array<{ id: number; code: string | null; quantity: number; forecast_quantity: number }>>(
        'product.product',
        'read',
        [products, ['code', 'quantity', 'forecast_quantity']],
        { locations: [wh.id], active_test: false },
      );
      for (const l of levels) {
        if (!l.code) continue; // no SKU: nothing canonical to say about it
        const onHand = quantity(l.quantity);
        const available = quantity(l.forecast_quantity);
        const ts = changedAt.get(l.id)!;
        messages.push({
          eventId: `${source}:stock:${l.id}@${wh.id}:${ts}:${onHand}:${available}`,
          body: {
            sku: l.code,
            product_id: l.id,
            warehouse: wh.code,
            warehouse_name: wh.name,
            on_hand: onHand,
            available,
            reserved: Math.max(0, onHand - available),
            changed_at: timestamp(ts),
          },
        });
      }
    }
  }
  return { messages, cursor: scan.cursor, more: scan.more };
}
