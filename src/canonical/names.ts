/**
 * The names of the canonical entities, apart from their schemas so that
 * code needing only the names (the CLI's argument checks) does not compile
 * every validator on import.
 */
export const ENTITY_NAMES = ['customer', 'product', 'order', 'inventory_level', 'invoice', 'shipment'] as const;
export type EntityName = (typeof ENTITY_NAMES)[number];

export function isEntityName(s: string): s is EntityName {
  return (ENTITY_NAMES as readonly string[]).includes(s);
}
