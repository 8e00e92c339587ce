import { Type, type Static } from '@sinclair/typebox';
import { Address, Attributes, Timestamp, pii } from './common.js';

export const CustomerSchema = Type.Object(
  {
    email: Type.Optional(pii(Type.String({ format: 'email', maxLength: 254 }))),
    first_name: Type.Optional(pii(Type.String({ maxLength: 100 }))),
    last_name: Type.Optional(pii(Type.String({ maxLength: 100 }))),
    company: Type.Optional(Type.String({ maxLength: 200 })),
    phone: Type.Optional(pii(Type.String({ maxLength: 40 }))),
    billing_address: Type.Optional(Address),
    shipping_address: Type.Optional(Address),
    marketing_opt_in: Type.Optional(Type.Boolean()),
    created_at: Type.Optional(Timestamp),
    attributes: Type.Optional(Attributes),
  },
  { $id: 'Customer', additionalProperties: false, 'x-schema-version': 1 },
);

export type Customer = Static<typeof CustomerSchema>;
