import { isEntityName, maskPii } from '../canonical/index.js';

/**
 * A record's data as a caller without `records.read_personal` may see it
 * (viewers, systems not cleared for personal data): every personal-data
 * field replaced by `***`, everything else as stored. Unknown entities are
 * returned unchanged (they have no marked fields).
 */
export function maskPersonalData(entity: string, data: Record<string, unknown>): Record<string, unknown> {
  return isEntityName(entity) ? maskPii(entity, data) : data;
}
