import { Type, type Static } from '@sinclair/typebox';
import { Attributes, Sku, Timestamp } from './common.js';

/** Stock of one SKU at one location (warehouse, store, bin). */
export const InventoryLevelSchema = Type.Object(
  {
    sku: Sku,
    location: Type.String({ minLength: 1, maxLength: 100 }),
    on_hand: Type.Integer({ description: 'physically there; may be negative when a system oversold' }),
    available: Type.Optional(Type.Integer({ description: 'on hand minus reserved' })),
    reserved: Type.Optional(Type.Integer({ minimum: 0 })),
    counted_at: Type.Optional(Timestamp),
    attributes: Type.Optional(Attributes),
  },
  { $id: 'InventoryLevel', additionalProperties: false, 'x-schema-version': 1 },
);

export type InventoryLevel = Static<typeof InventoryLevelSchema>;
