import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { CustomerSchema, type Customer } from './customer.js';
import { InventoryLevelSchema, type InventoryLevel } from './inventory-level.js';
import { InvoiceSchema, type Invoice } from './invoice.js';
import { OrderSchema, type Order } from './order.js';
import { ProductSchema, type Product } from './product.js';
import { ENTITY_NAMES, type EntityName } from './names.js';
import { ShipmentSchema, type Shipment } from './shipment.js';

export type { Customer, InventoryLevel, Invoice, Order, Product, Shipment };

/**
 * The canonical model v1: one schema per entity gives the TypeScript type
 * (Static<>), the runtime validation (Ajv, compiled once) and the OpenAPI
 * component (the schema itself). Unknown fields are rejected; custom data
 * goes in `attributes`.
 */
export { ENTITY_NAMES, isEntityName, type EntityName } from './names.js';
export type CanonicalData = Customer | Product | Order | InventoryLevel | Invoice | Shipment;

export interface EntityDefinition {
  name: EntityName;
  /** Prefix of canonical ids, e.g. `ord_01j…`. */
  idPrefix: string;
  schema: TSchema;
  version: number;
  /** Dotted paths of personal-data fields (marked `x-pii` in the schema). */
  piiFields: string[];
}

function piiPaths(schema: TSchema, prefix = ''): string[] {
  const out: string[] = [];
  const s = schema as { properties?: Record<string, TSchema>; items?: TSchema; 'x-pii'?: boolean };
  if (s['x-pii'] && prefix) out.push(prefix);
  if (s.properties) for (const [k, v] of Object.entries(s.properties)) out.push(...piiPaths(v, prefix ? `${prefix}.${k}` : k));
  if (s.items) out.push(...piiPaths(s.items, `${prefix}[]`));
  return out;
}

function define(name: EntityName, idPrefix: string, schema: TSchema): EntityDefinition {
  return { name, idPrefix, schema, version: (schema as { 'x-schema-version'?: number })['x-schema-version'] ?? 1, piiFields: piiPaths(schema) };
}

export const ENTITIES: Record<EntityName, EntityDefinition> = {
  customer: define('customer', 'cus', CustomerSchema),
  product: define('product', 'prd', ProductSchema),
  order: define('order', 'ord', OrderSchema),
  inventory_level: define('inventory_level', 'inv', InventoryLevelSchema),
  invoice: define('invoice', 'bil', InvoiceSchema),
  shipment: define('shipment', 'shp', ShipmentSchema),
};

export const canonicalSchemas: TSchema[] = ENTITY_NAMES.map((n) => ENTITIES[n].schema);

// ajv-formats is CommonJS with a default export; under NodeNext its type is the module.
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
ajv.addKeyword({ keyword: 'x-pii' });
ajv.addKeyword({ keyword: 'x-schema-version' });

const validators = new Map<EntityName, ValidateFunction>(ENTITY_NAMES.map((n) => [n, ajv.compile(ENTITIES[n].schema)]));

export interface FieldError {
  path: string;
  message: string;
}

function toFieldError(e: ErrorObject): FieldError {
  if (e.keyword === 'additionalProperties') {
    return { path: `${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}`, message: 'unknown field' };
  }
  if (e.keyword === 'required') {
    return { path: `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`, message: 'is required' };
  }
  return { path: e.instancePath || '/', message: e.message ?? 'is invalid' };
}

export function validateRecord(
  entity: EntityName,
  data: unknown,
): { ok: true; value: CanonicalData } | { ok: false; errors: FieldError[] } {
  const validate = validators.get(entity);
  if (!validate) return { ok: false, errors: [{ path: '/', message: `unknown entity ${entity}` }] };
  if (validate(data)) return { ok: true, value: data as CanonicalData };
  // A union of literals reports one error per branch; keep one line per path.
  const seen = new Set<string>();
  const errors = (validate.errors ?? []).map(toFieldError).filter((e) => {
    const k = e.path;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return { ok: false, errors };
}

const MASK = '***';

function maskPath(value: unknown, path: string[]): unknown {
  if (value === null || value === undefined) return value;
  const [head, ...rest] = path;
  if (head === undefined) return typeof value === 'string' ? MASK : value;
  if (head === '[]') return Array.isArray(value) ? value.map((v) => maskPath(v, rest)) : value;
  if (typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, head)) return value;
  return { ...(value as Record<string, unknown>), [head]: maskPath((value as Record<string, unknown>)[head], rest) };
}

/** A copy of `data` with every personal-data string replaced by `***`. */
export function maskPii(entity: EntityName, data: Record<string, unknown>): Record<string, unknown> {
  let out: unknown = data;
  for (const field of ENTITIES[entity].piiFields) out = maskPath(out, field.replace(/\[\]/g, '.[]').split('.').filter(Boolean));
  return out as Record<string, unknown>;
}
