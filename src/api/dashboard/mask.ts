import { ENTITIES, isEntityName } from '../../canonical/index.js';
import type { FieldChange } from '../../records/diff.js';

/** What a masked personal value shows instead (as src/canonical maskPii). */
export const MASK = '***';

/**
 * Personal fields (marked `x-pii` in the canonical schemas) of changed
 * paths, for callers who may not see personal data: a diff path such as
 * `shipping_address.name` or `lines[3].name` is personal when it is, or is
 * inside, a personal field of the entity.
 */
export function isPersonalPath(entity: string, path: string): boolean {
  if (!isEntityName(entity)) return false;
  const general = path.replace(/\[\d+\]/g, '[]');
  return ENTITIES[entity].piiFields.some((p) => general === p || general.startsWith(`${p}.`) || general.startsWith(`${p}[`) || p.startsWith(`${general}.`));
}

export function maskChanges(entity: string, changes: FieldChange[]): FieldChange[] {
  return changes.map((c) =>
    isPersonalPath(entity, c.path) ? { path: c.path, before: c.before === null ? null : MASK, after: c.after === null ? null : MASK } : c,
  );
}
