import { Type, type Static } from '@sinclair/typebox';
import { Amount, Attributes, Currency, Sku } from './common.js';

export const ProductSchema = Type.Object(
  {
    sku: Sku,
    name: Type.String({ minLength: 1, maxLength: 300 }),
    description: Type.Optional(Type.String({ maxLength: 20_000 })),
    price: Type.Optional(Amount),
    currency: Type.Optional(Currency),
    active: Type.Optional(Type.Boolean()),
    weight_grams: Type.Optional(Type.Integer({ minimum: 0 })),
    barcode: Type.Optional(Type.String({ maxLength: 64 })),
    attributes: Type.Optional(Attributes),
  },
  { $id: 'Product', additionalProperties: false, 'x-schema-version': 1 },
);

export type Product = Static<typeof ProductSchema>;
