import { Type, type Static } from '@sinclair/typebox';
import { Address, Amount, Attributes, Currency, Id, Quantity, Sku, Timestamp } from './common.js';

export const INVOICE_STATUSES = ['draft', 'open', 'paid', 'void'] as const;

export const InvoiceLine = Type.Object(
  {
    sku: Type.Optional(Sku),
    description: Type.String({ minLength: 1, maxLength: 500 }),
    quantity: Quantity,
    unit_price: Amount,
    tax: Type.Optional(Amount),
    total: Type.Optional(Amount),
  },
  { additionalProperties: false },
);

export const InvoiceSchema = Type.Object(
  {
    number: Type.String({ minLength: 1, maxLength: 100 }),
    status: Type.Union(INVOICE_STATUSES.map((s) => Type.Literal(s))),
    order_id: Type.Optional(Id),
    customer_id: Type.Optional(Id),
    currency: Currency,
    lines: Type.Optional(Type.Array(InvoiceLine, { maxItems: 10_000 })),
    subtotal: Type.Optional(Amount),
    tax: Type.Optional(Amount),
    total: Amount,
    amount_due: Type.Optional(Amount),
    billing_address: Type.Optional(Address),
    issued_at: Type.Optional(Timestamp),
    due_at: Type.Optional(Timestamp),
    paid_at: Type.Optional(Timestamp),
    attributes: Type.Optional(Attributes),
  },
  { $id: 'Invoice', additionalProperties: false, 'x-schema-version': 1 },
);

export type Invoice = Static<typeof InvoiceSchema>;
