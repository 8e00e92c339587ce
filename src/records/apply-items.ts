import type { Ownership } from '../config/load.js';
import type { MappedItem } from '../normalize/items.js';
import type { Queryable } from '../store/db.js';
import { findByExternalId } from '../store/records.js';
import { applyWrite, type ChangeListener, type WriteOutcome } from './write.js';

export interface ItemsSource {
  /** The system stating these items (their external ids are its own). */
  system: string;
  traceId: string;
  inboxId: number | null;
  ownership: Ownership;
  onChange: ChangeListener | undefined;
}

/**
 * Writes mapped items in order inside the caller's transaction, resolving
 * each item's `refs` (another record known by its external id) to canonical
 * ids first, so an order can point at the customer written just before it.
 */
export async function applyItems(q: Queryable, items: readonly MappedItem[], src: ItemsSource): Promise<WriteOutcome[]> {
  const outcomes: WriteOutcome[] = [];
  for (const item of items) {
    const data = { ...item.data };
    for (const ref of item.refs) {
      const id = await findByExternalId(q, ref.system ?? src.system, ref.entity, ref.externalId);
      if (id) data[ref.field] = id;
    }
    outcomes.push(
      await applyWrite(
        q,
        { entity: item.entity, system: src.system, externalId: item.externalId, data, delete: item.delete, traceId: src.traceId, inboxId: src.inboxId },
        { ownership: src.ownership, onChange: src.onChange },
      ),
    );
  }
  return outcomes;
}
