import { isEntityName, type EntityName } from '../canonical/index.js';

/**
 * What an inbound mapping returns: one item or a list of items, each naming
 * the entity, the sending system's own id for it, and the canonical fields.
 *
 * ```jsonata
 * [
 *   { "entity": "customer", "external_id": $string(customer.id), "data": { "email": customer.email } },
 *   { "entity": "order", "external_id": $string(id), "data": { … },
 *     "refs": { "customer_id": { "entity": "customer", "external_id": $string(customer.id) } } }
 * ]
 * ```
 *
 * `refs` fill a field with the canonical id of another record known by its
 * external id (in this system unless `system` says otherwise); items are
 * applied in order, so a customer earlier in the list is found by the order.
 */
export interface MappedItem {
  entity: EntityName;
  externalId: string;
  data: Record<string, unknown>;
  delete: boolean;
  refs: Array<{ field: string; entity: EntityName; externalId: string; system: string | undefined }>;
}

export class MappingOutputError extends Error {
  override readonly name = 'MappingOutputError';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function idString(v: unknown, where: string): string {
  if (typeof v === 'string' && v.length > 0 && v.length <= 256) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new MappingOutputError(`${where}: external_id must be a non-empty string or number`);
}

export function parseMappedItems(output: unknown): MappedItem[] {
  if (output === undefined || output === null) return [];
  const list = Array.isArray(output) ? output : [output];
  return list.map((raw: unknown, i) => {
    const where = `item ${i}`;
    if (!isObject(raw)) throw new MappingOutputError(`${where}: expected an object with entity, external_id and data`);
    const entity = raw['entity'];
    if (typeof entity !== 'string' || !isEntityName(entity)) {
      throw new MappingOutputError(`${where}: unknown entity ${JSON.stringify(entity)}`);
    }
    const externalId = idString(raw['external_id'], where);
    const del = raw['delete'] === true;
    const data = raw['data'] ?? {};
    if (!isObject(data)) throw new MappingOutputError(`${where}: data must be an object`);
    const refs: MappedItem['refs'] = [];
    const rawRefs = raw['refs'];
    if (rawRefs !== undefined) {
      if (!isObject(rawRefs)) throw new MappingOutputError(`${where}: refs must be an object`);
      for (const [field, ref] of Object.entries(rawRefs)) {
        if (!isObject(ref) || typeof ref['entity'] !== 'string' || !isEntityName(ref['entity'])) {
          throw new MappingOutputError(`${where}: refs.${field} must name an entity and an external_id`);
        }
        const system = ref['system'];
        refs.push({
          field,
          entity: ref['entity'],
          externalId: idString(ref['external_id'], `${where}: refs.${field}`),
          system: typeof system === 'string' ? system : undefined,
        });
      }
    }
    for (const key of Object.keys(raw)) {
      if (!['entity', 'external_id', 'data', 'delete', 'refs'].includes(key)) {
        throw new MappingOutputError(`${where}: unknown key "${key}"`);
      }
    }
    return { entity, externalId, data: { ...data }, delete: del, refs };
  });
}
