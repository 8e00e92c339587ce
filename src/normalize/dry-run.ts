import { ENTITIES, validateRecord, type EntityName, type FieldError } from '../canonical/index.js';
import type { Project } from '../config/load.js';
import { errorMessage } from '../errors.js';
import { contentHash } from '../records/hash.js';
import { MappingOutputError, parseMappedItems } from './items.js';

/**
 * What one inbound payload would do, without a database: the topic's
 * mapping runs for real, its items are parsed and validated exactly as the
 * normalizer does, and the record writes are simulated in memory following
 * the rules of records/write.ts (ownership, field ownership, merge, delete,
 * canonical validation, echo suppression by content hash). `causeway plan`
 * and `causeway test` use it; keep it in step with applyWrite.
 */

/** A record the hub already has, when a running hub can be asked (plan --url). */
export interface KnownRecord {
  id: string;
  version: number;
  data: Record<string, unknown>;
  deleted: boolean;
  hash: string;
  /** system → that system's id for the record. */
  xrefs: Record<string, string>;
}

export interface RecordLookup {
  byExternalId(system: string, entity: EntityName, externalId: string): Promise<KnownRecord | undefined>;
}

/** Offline: the store is empty. */
export const EMPTY_STORE: RecordLookup = { byExternalId: async () => undefined };

export type PlannedOutcome = 'created' | 'updated' | 'deleted' | 'unchanged' | 'refused' | 'invalid';

export interface PlannedRef {
  field: string;
  entity: EntityName;
  system: string;
  externalId: string;
  /** The canonical id the field gets; undefined when no such record is known (the field stays unset). */
  recordId: string | undefined;
}

export interface PlannedWrite {
  entity: EntityName;
  externalId: string;
  outcome: PlannedOutcome;
  recordId: string | null;
  /** The version after the write (the current one for unchanged). */
  version: number | null;
  /** The record's data after the write (merged with what the hub had). */
  data: Record<string, unknown>;
  refs: PlannedRef[];
  /** Why it was refused, or which owned fields kept their values. */
  reason?: string;
  /** Why the data is not a valid canonical record. */
  errors?: FieldError[];
  /** Every system's id for the record (for the flows' `external_id` binding). */
  xrefs: Record<string, string>;
}

export interface InboundPlan {
  system: string;
  topic: string;
  /** What the mapping returned. */
  output: unknown;
  writes: PlannedWrite[];
  /** Set when the message would be marked failed (and none of its writes happen). */
  error?: string;
}

interface SimRecord {
  id: string;
  version: number;
  data: Record<string, unknown>;
  deleted: boolean;
  hash: string;
  xrefs: Record<string, string>;
}

/** Ids for records a dry run creates: `<prefix>_new_<n>`, counted per entity in the order created. */
export class DryRunIds {
  private readonly counts = new Map<string, number>();
  next(entity: EntityName): string {
    const prefix = ENTITIES[entity].idPrefix;
    const n = (this.counts.get(prefix) ?? 0) + 1;
    this.counts.set(prefix, n);
    return `${prefix}_new_${n}`;
  }
}

export async function planInbound(
  project: Project,
  systemName: string,
  topicName: string,
  payload: unknown,
  options: { lookup?: RecordLookup; ids?: DryRunIds } = {},
): Promise<InboundPlan> {
  const lookup = options.lookup ?? EMPTY_STORE;
  const ids = options.ids ?? new DryRunIds();
  const plan: InboundPlan = { system: systemName, topic: topicName, output: undefined, writes: [] };
  const system = project.systems.get(systemName);
  if (!system) return { ...plan, error: `no system named ${systemName} (it has: ${[...project.systems.keys()].join(', ')})` };
  const topic = system.topics.get(topicName);
  if (!topic) {
    const known = [...system.topics.keys()];
    return { ...plan, error: `system ${systemName} has no topic ${topicName}${known.length ? ` (it has: ${known.join(', ')})` : ''}` };
  }
  try {
    plan.output = await topic.mapping.evaluate(payload, { system: systemName, topic: topicName });
  } catch (e) {
    return { ...plan, error: `mapping failed: ${errorMessage(e)}` };
  }
  let items;
  try {
    items = parseMappedItems(plan.output);
  } catch (e) {
    if (e instanceof MappingOutputError) return { ...plan, error: `mapping output: ${e.message}` };
    throw e;
  }

  // What this payload has written so far, so later items see earlier ones (an order finds its customer).
  const written = new Map<string, SimRecord>();
  const key = (system: string, entity: string, externalId: string) => `${system}\u0000${entity}\u0000${externalId}`;
  const find = async (system: string, entity: EntityName, externalId: string): Promise<SimRecord | undefined> => {
    const k = key(system, entity, externalId);
    const mine = written.get(k);
    if (mine) return mine;
    const known = await lookup.byExternalId(system, entity, externalId);
    if (!known) return undefined;
    const copy: SimRecord = { ...known, data: { ...known.data }, xrefs: { ...known.xrefs } };
    written.set(k, copy);
    return copy;
  };

  for (const item of items) {
    const data = { ...item.data };
    const refs: PlannedRef[] = [];
    for (const ref of item.refs) {
      const target = await find(ref.system ?? systemName, ref.entity, ref.externalId);
      const recordId = target?.id;
      if (recordId) data[ref.field] = recordId;
      refs.push({ field: ref.field, entity: ref.entity, system: ref.system ?? systemName, externalId: ref.externalId, recordId });
    }
    const base = { entity: item.entity, externalId: item.externalId, refs };
    const existing = await find(systemName, item.entity, item.externalId);
    const owner = project.ownership.entities.get(item.entity);
    if (owner !== undefined && owner !== systemName) {
      plan.writes.push({
        ...base,
        outcome: 'refused',
        recordId: existing?.id ?? null,
        version: existing?.version ?? null,
        data,
        reason: `${item.entity} is owned by ${owner}; ${systemName} may not write it`,
        xrefs: existing?.xrefs ?? {},
      });
      continue;
    }

    const incoming = { ...data };
    const kept: string[] = [];
    for (const [field, fieldOwner] of project.ownership.fields.get(item.entity) ?? []) {
      if (fieldOwner === systemName || !(field in incoming)) continue;
      const current = existing?.data[field];
      if (JSON.stringify(incoming[field]) !== JSON.stringify(current)) kept.push(`${field} (owned by ${fieldOwner})`);
      if (current === undefined) delete incoming[field];
      else incoming[field] = current;
    }
    const keptReason = kept.length ? { reason: `kept the values of ${kept.join(', ')}` } : {};

    if (item.delete) {
      if (!existing || existing.deleted) {
        plan.writes.push(
          existing
            ? { ...base, outcome: 'unchanged', recordId: existing.id, version: existing.version, data: existing.data, xrefs: existing.xrefs }
            : { ...base, outcome: 'refused', recordId: null, version: null, data: {}, reason: 'nothing to delete', xrefs: {} },
        );
        continue;
      }
      existing.version++;
      existing.deleted = true;
      plan.writes.push({ ...base, outcome: 'deleted', recordId: existing.id, version: existing.version, data: existing.data, xrefs: existing.xrefs });
      continue;
    }

    const merged: Record<string, unknown> = { ...(existing?.data ?? {}) };
    for (const [k, v] of Object.entries(incoming)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    const checked = validateRecord(item.entity, merged);
    if (!checked.ok) {
      plan.writes.push({ ...base, outcome: 'invalid', recordId: existing?.id ?? null, version: existing?.version ?? null, data: merged, errors: checked.errors, xrefs: existing?.xrefs ?? {} });
      // The normalizer fails the whole message (a savepoint per message): nothing of it is written.
      const why = checked.errors.map((e) => `${e.path} ${e.message}`).join('; ');
      plan.error ??= `${item.entity} ${item.externalId} from ${systemName} is not a valid ${item.entity}: ${why}`;
      continue;
    }
    const hash = contentHash(merged);
    if (existing && existing.hash === hash && !existing.deleted) {
      plan.writes.push({ ...base, ...keptReason, outcome: 'unchanged', recordId: existing.id, version: existing.version, data: merged, xrefs: existing.xrefs });
      continue;
    }
    if (existing) {
      existing.version++;
      existing.data = merged;
      existing.hash = hash;
      existing.deleted = false;
      plan.writes.push({ ...base, ...keptReason, outcome: 'updated', recordId: existing.id, version: existing.version, data: merged, xrefs: existing.xrefs });
      continue;
    }
    const created: SimRecord = { id: ids.next(item.entity), version: 1, data: merged, deleted: false, hash, xrefs: { [systemName]: item.externalId } };
    written.set(key(systemName, item.entity, item.externalId), created);
    plan.writes.push({ ...base, ...keptReason, outcome: 'created', recordId: created.id, version: 1, data: merged, xrefs: created.xrefs });
  }
  return plan;
}
