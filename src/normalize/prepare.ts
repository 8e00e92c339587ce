import { validateRecord } from '../canonical/index.js';
import type { Project } from '../config/load.js';
import { errorMessage } from '../errors.js';
import { contentHash } from '../records/hash.js';
import type { NewRecordContent } from '../records/write.js';
import { MappingOutputError, parseMappedItems, type MappedItem } from './items.js';

/**
 * The part of normalizing a message that needs no database: its topic's
 * mapping, the items it returns, and — for an item that will create a
 * record — the record's checked content and hash. Intake runs this before
 * its transaction, so that on SQLite, where that transaction holds the one
 * write lock, the lock is held for the writes alone.
 */
export interface MessageToMap {
  system: string;
  topic: string;
  body: string;
  /** The parsed body, when the caller has it. */
  payload?: unknown;
}

export interface PreparedItem extends MappedItem {
  /** The content if this item creates its record (ownership, refs and an existing record are checked at write time). */
  created?: NewRecordContent;
}

export type Mapped = { ok: true; items: PreparedItem[] } | { ok: false; failure: string };

/** Maps one message; a failure is the reason the message is marked failed with. */
export async function mapMessage(m: MessageToMap, project: Project): Promise<Mapped> {
  const topic = project.systems.get(m.system)?.topics.get(m.topic);
  if (!topic) return { ok: false, failure: `system ${m.system} has no topic ${m.topic} in the current project` };
  let output: unknown;
  try {
    output = await topic.mapping.evaluate(m.payload === undefined ? JSON.parse(m.body) : m.payload, { system: m.system, topic: m.topic });
  } catch (e) {
    return { ok: false, failure: `mapping failed: ${errorMessage(e)}` };
  }
  try {
    return { ok: true, items: parseMappedItems(output) };
  } catch (e) {
    if (e instanceof MappingOutputError) return { ok: false, failure: `mapping output: ${e.message}` };
    throw e;
  }
}

/**
 * Adds the new-record content to items whose content does not depend on the
 * database: not a delete, no refs to resolve, no field owners to consult.
 * An item that fails validation gets none; applyWrite validates it again
 * and reports it as before.
 */
export function precomputeCreated(mapped: Mapped, project: Project): Mapped {
  if (!mapped.ok) return mapped;
  for (const item of mapped.items) {
    if (item.delete || item.refs.length > 0 || project.ownership.fields.has(item.entity)) continue;
    const merged: Record<string, unknown> = {};
    for (const k of Object.keys(item.data)) {
      const v = item.data[k];
      if (v !== null) merged[k] = v;
    }
    if (!validateRecord(item.entity, merged).ok) continue;
    item.created = { merged, hash: contentHash(merged) };
  }
  return mapped;
}
