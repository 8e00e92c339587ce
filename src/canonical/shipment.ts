import { Type, type Static } from '@sinclair/typebox';
import { Address, Attributes, Id, Quantity, Sku, Timestamp, pii } from './common.js';

export const SHIPMENT_STATUSES = ['pending', 'label_created', 'shipped', 'in_transit', 'delivered', 'returned', 'cancelled'] as const;

export const ShipmentSchema = Type.Object(
  {
    order_id: Type.Optional(Id),
    status: Type.Union(SHIPMENT_STATUSES.map((s) => Type.Literal(s))),
    carrier: Type.Optional(Type.String({ maxLength: 100 })),
    service: Type.Optional(Type.String({ maxLength: 100 })),
    tracking_number: Type.Optional(Type.String({ maxLength: 100 })),
    tracking_url: Type.Optional(Type.String({ format: 'uri', maxLength: 2000 })),
    lines: Type.Optional(Type.Array(Type.Object({ sku: Sku, quantity: Quantity }, { additionalProperties: false }), { maxItems: 10_000 })),
    ship_to: Type.Optional(Address),
    email: Type.Optional(
      pii(Type.String({ format: 'email', maxLength: 254, description: "where the recipient's shipping notifications go (usually the order's email)" })),
    ),
    shipped_at: Type.Optional(Timestamp),
    delivered_at: Type.Optional(Timestamp),
    attributes: Type.Optional(Attributes),
  },
  { $id: 'Shipment', additionalProperties: false, 'x-schema-version': 1 },
);

export type Shipment = Static<typeof ShipmentSchema>;
