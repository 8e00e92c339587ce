import { Type, type Static } from '@sinclair/typebox';
import { Address, Amount, Attributes, Currency, Id, Quantity, Sku, Timestamp, pii } from './common.js';

export const ORDER_STATUSES = ['pending', 'confirmed', 'paid', 'shipped', 'completed', 'cancelled', 'refunded'] as const;

export const OrderLine = Type.Object(
  {
    sku: Sku,
    name: Type.Optional(Type.String({ maxLength: 300 })),
    quantity: Quantity,
    unit_price: Amount,
    discount: Type.Optional(Amount),
    tax: Type.Optional(Amount),
    total: Type.Optional(Amount),
    product_id: Type.Optional(Id),
  },
  { additionalProperties: false },
);

export const OrderSchema = Type.Object(
  {
    number: Type.String({ minLength: 1, maxLength: 100, description: 'the number people use, e.g. the store’s order number' }),
    status: Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s))),
    channel: Type.Optional(Type.String({ maxLength: 100, description: 'where it was sold, e.g. web, pos, marketplace' })),
    customer_id: Type.Optional(Id),
    email: Type.Optional(pii(Type.String({ format: 'email', maxLength: 254 }))),
    currency: Currency,
    lines: Type.Array(OrderLine, { minItems: 1, maxItems: 10_000 }),
    subtotal: Type.Optional(Amount),
    shipping: Type.Optional(Amount),
    tax: Type.Optional(Amount),
    discount: Type.Optional(Amount),
    total: Amount,
    billing_address: Type.Optional(Address),
    shipping_address: Type.Optional(Address),
    placed_at: Timestamp,
    paid_at: Type.Optional(Timestamp),
    cancelled_at: Type.Optional(Timestamp),
    attributes: Type.Optional(Attributes),
  },
  { $id: 'Order', additionalProperties: false, 'x-schema-version': 1 },
);

export type Order = Static<typeof OrderSchema>;
