import { Type, type TSchema } from '@sinclair/typebox';

/**
 * Building blocks shared by the canonical entities.
 *
 * Money: amounts are integers in the currency's minor units (cents), never
 * floats, and each document (order, invoice, product price) carries one ISO
 * 4217 `currency` for all its amounts — a document never mixes currencies,
 * and one field is harder to get inconsistent than one per amount.
 */

/** Personal data: masked for viewers, shared only with systems cleared for it. */
export function pii<T extends TSchema>(schema: T): T {
  return { ...schema, 'x-pii': true };
}

export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, e.g. EUR' });

export const Amount = Type.Integer({ description: 'minor units of the document currency (e.g. cents); negative for credits' });

export const Timestamp = Type.String({
  format: 'date-time',
  pattern: 'Z$',
  description: 'ISO 8601 in UTC, ending in Z',
});

export const Attributes = Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.Unknown(), {
  description: 'custom fields, free-form',
});

export const Id = Type.String({ minLength: 1, maxLength: 128, description: 'a canonical record id' });

export const Address = Type.Object(
  {
    name: Type.Optional(pii(Type.String({ maxLength: 200 }))),
    company: Type.Optional(Type.String({ maxLength: 200 })),
    line1: pii(Type.String({ minLength: 1, maxLength: 200 })),
    line2: Type.Optional(pii(Type.String({ maxLength: 200 }))),
    city: Type.String({ minLength: 1, maxLength: 100 }),
    region: Type.Optional(Type.String({ maxLength: 100 })),
    postal_code: Type.Optional(pii(Type.String({ maxLength: 20 }))),
    country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
    phone: Type.Optional(pii(Type.String({ maxLength: 40 }))),
  },
  { additionalProperties: false },
);

export const Sku = Type.String({ minLength: 1, maxLength: 100 });

/** A line of an order, invoice or shipment. */
export const Quantity = Type.Integer({ minimum: 0, maximum: 1_000_000_000 });
