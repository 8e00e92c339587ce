import { Type, type Static } from '@sinclair/typebox';
import { Address } from '../../canonical/common.js';
import type { ConnectorManifest } from '../types.js';

/**
 * The `tryton` connector's contract: a Tryton 6.x ERP over JSON-RPC.
 * Money crosses this boundary as integer minor units (canonical) and leaves
 * as Tryton Decimals; see codec.ts.
 */

export const TrytonConfig = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^/]+', description: 'the server, e.g. http://127.0.0.1:8000 (no database in it)' }),
    database: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$', description: 'the database name' }),
    login: Type.String({ minLength: 1 }),
    password: Type.String({ minLength: 1 }),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'per call, on top of the flow timeout (default 30000)' })),
    warehouse: Type.Optional(Type.String({ minLength: 1, description: 'code of the warehouse sales ship from (default: the first warehouse)' })),
    payment_term: Type.Optional(Type.String({ minLength: 1, description: 'name of the payment term of new sales (default: the first one)' })),
    product_category: Type.Optional(Type.String({ minLength: 1, description: 'name of the accounting category of products the hub creates (default "Goods")' })),
  },
  { additionalProperties: false },
);
export type TrytonConfig = Static<typeof TrytonConfig>;

const Minor = Type.Integer({ description: 'minor units of the currency (cents)' });
const Ref = Type.String({ minLength: 1, maxLength: 128, description: "the hub's id of the record, kept in Tryton so a repeat finds it" });

export const CustomerInput = Type.Object(
  {
    ref: Ref,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    email: Type.Optional(Type.String({ maxLength: 254 })),
    phone: Type.Optional(Type.String({ maxLength: 40 })),
    address: Type.Optional(Address),
  },
  { additionalProperties: false },
);
export type CustomerInput = Static<typeof CustomerInput>;

export const CustomerOutput = Type.Object(
  { party_id: Type.Integer(), code: Type.String(), address_id: Type.Union([Type.Integer(), Type.Null()]), created: Type.Boolean() },
  { additionalProperties: false },
);
export type CustomerOutput = Static<typeof CustomerOutput>;

export const ProductInput = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 100 }),
    name: Type.String({ minLength: 1, maxLength: 300 }),
    price: Type.Optional(Minor),
    cost_price: Type.Optional(Minor),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: "the prices' currency: must be the company's" })),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ProductInput = Static<typeof ProductInput>;

export const ProductOutput = Type.Object(
  { template_id: Type.Integer(), product_id: Type.Integer(), code: Type.String(), created: Type.Boolean() },
  { additionalProperties: false },
);
export type ProductOutput = Static<typeof ProductOutput>;

export const SaleInput = Type.Object(
  {
    reference: Type.String({ minLength: 1, maxLength: 100, description: "the order's number: how a repeat finds the sale" }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
    customer: CustomerInput,
    lines: Type.Array(
      Type.Object(
        {
          sku: Type.String({ minLength: 1, maxLength: 100 }),
          name: Type.Optional(Type.String({ maxLength: 300 })),
          quantity: Type.Integer({ minimum: 1 }),
          unit_price: Minor,
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
    description: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type SaleInput = Static<typeof SaleInput>;

export const SaleOptions = Type.Object(
  {
    confirm: Type.Optional(Type.Boolean({ default: true, description: 'quote and confirm the sale (default true); false leaves it a draft' })),
    unknown_products: Type.Optional(
      Type.Union([Type.Literal('error'), Type.Literal('create')], {
        default: 'error',
        description: 'a line whose SKU Tryton does not know: refuse the order (default), or create the product from the line',
      }),
    ),
    taxes: Type.Optional(
      Type.Union([Type.Literal('category'), Type.Literal('none')], {
        default: 'category',
        description: "customer taxes of each product's accounting category on its line (default), or none",
      }),
    ),
  },
  { additionalProperties: false },
);
export type SaleOptions = Static<typeof SaleOptions>;

export const SaleOutput = Type.Object(
  {
    sale_id: Type.Integer(),
    number: Type.Union([Type.String(), Type.Null()]),
    reference: Type.String(),
    state: Type.String(),
    party_id: Type.Integer(),
    currency: Type.String(),
    untaxed: Minor,
    tax: Minor,
    total: Minor,
    created: Type.Boolean({ description: 'false when an earlier attempt had already created it' }),
  },
  { additionalProperties: false },
);
export type SaleOutput = Static<typeof SaleOutput>;

export const PollOptions = Type.Object(
  {
    since: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$', description: 'the first poll starts here (UTC) instead of at the beginning' })),
    batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'records per call (default 100)' })),
    overlap_seconds: Type.Optional(
      Type.Number({ minimum: 0, maximum: 3600, description: 'each scan starts this far before the newest change seen, for transactions that commit late (default 10)' }),
    ),
    settle_seconds: Type.Optional(
      Type.Number({ minimum: 0, maximum: 3600, description: 'a change is taken once this old, so write-backs of our own calls land first (default 2)' }),
    ),
  },
  { additionalProperties: false },
);
export type PollOptions = Static<typeof PollOptions>;

export const StockOptions = Type.Object(
  { ...PollOptions.properties, warehouses: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'warehouse codes (default: all)' })) },
  { additionalProperties: false },
);
export type StockOptions = Static<typeof StockOptions>;

const CURSOR = '{ since, after_id, scan_max, unsettled }: Tryton write/create dates as naive-UTC text to the microsecond, and the paging position inside one scan';

export const manifest: ConnectorManifest = {
  kind: 'tryton',
  description: 'Tryton ERP over JSON-RPC: customers, products and confirmed sales; stock levels, shipments, invoices and sale states back.',
  config: TrytonConfig,
  secrets: ['password'],
  actions: {
    upsert_customer: {
      description: 'Creates or updates a party (name, email, phone, one address), found by the hub id kept as its identifier.',
      input: CustomerInput,
      output: CustomerOutput,
      idempotent: true,
    },
    upsert_product: {
      description: 'Creates or updates a goods product (template + variant), found by its code (the SKU).',
      input: ProductInput,
      output: ProductOutput,
      idempotent: true,
    },
    create_sale: {
      description: 'Creates a sale for an order (with its customer) and confirms it; a sale with the same reference is reused, never duplicated.',
      input: SaleInput,
      options: SaleOptions,
      output: SaleOutput,
      idempotent: true,
    },
  },
  sources: {
    sales: { description: 'Sales created or changed (state, shipment and invoice state)', mode: 'poll', options: PollOptions, cursor: CURSOR },
    shipments: { description: 'Customer shipments that reached done', mode: 'poll', options: PollOptions, cursor: CURSOR },
    invoices: { description: 'Customer invoices posted or paid', mode: 'poll', options: PollOptions, cursor: CURSOR },
    stock: {
      description: 'Stock levels (on hand, forecast) per product and warehouse, for products whose stock moves changed',
      mode: 'poll',
      options: StockOptions,
      cursor: CURSOR,
    },
  },
};
