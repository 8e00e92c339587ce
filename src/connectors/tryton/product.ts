import { PermanentError } from '../types.js';
import { toDecimal } from './codec.js';
import type { ProductInput, ProductOutput, TrytonConfig } from './manifest.js';
import { categoryByName, companyCurrency, unitId } from './refdata.js';
import type { TrytonClient } from './rpc.js';

/**
 * Upsert of a product as a Tryton template with one variant, found by its
 * code (the SKU). The code is set on the template: the variant's own code is
 * read-only over RPC (template code + suffix) and silently ignored on create.
 */

export interface ProductRow {
  id: number;
  code: string;
  template: number;
  /** The template's accounting category, for its customer taxes. */
  category: number | null;
}

/** Variants by code, archived ones included (an archived product is still the same SKU). */
export async function productsByCode(client: TrytonClient, codes: string[]): Promise<Map<string, ProductRow>> {
  const rows = await client.model<Array<{ id: number; code: string; template: number }>>(
    'product.product',
    'search_read',
    [[['code', 'in', [...new Set(codes)]]], 0, null, [['id', 'ASC']], ['code', 'template']],
    { active_test: false },
  );
  const templates = rows.length
    ? await client.model<Array<{ id: number; account_category: number | null }>>('product.template', 'read', [[...new Set(rows.map((r) => r.template))], ['account_category']], {
        active_test: false,
      })
    : [];
  const categoryOf = new Map(templates.map((t) => [t.id, t.account_category]));
  const out = new Map<string, ProductRow>();
  // The oldest wins when two variants share a code.
  for (const r of rows) if (!out.has(r.code)) out.set(r.code, { id: r.id, code: r.code, template: r.template, category: categoryOf.get(r.template) ?? null });
  return out;
}

export async function upsertProduct(client: TrytonClient, config: TrytonConfig, input: ProductInput): Promise<ProductOutput> {
  const currency = await companyCurrency(client);
  if (input.currency && input.currency !== currency.code) {
    throw new PermanentError(`product ${input.sku} is priced in ${input.currency}; Tryton list prices are in the company's currency, ${currency.code}`);
  }
  const existing = (await productsByCode(client, [input.sku])).get(input.sku);
  const values: Record<string, unknown> = { name: input.name, active: input.active ?? true };
  if (input.price !== undefined) values['list_price'] = toDecimal(input.price, currency.digits);
  if (existing) {
    await client.model('product.template', 'write', [[existing.template], values]);
    if (input.cost_price !== undefined) {
      await client.model('product.product', 'write', [[existing.id], { cost_price: toDecimal(input.cost_price, currency.digits) }]);
    }
    return { template_id: existing.template, product_id: existing.id, code: input.sku, created: false };
  }
  const [uom, category] = await Promise.all([unitId(client), categoryByName(client, config.product_category ?? 'Goods')]);
  const [templateId] = await client.model<number[]>('product.template', 'create', [
    [
      {
        ...values,
        code: input.sku,
        type: 'goods',
        default_uom: uom,
        salable: true,
        sale_uom: uom,
        list_price: values['list_price'] ?? toDecimal(0, currency.digits),
        account_category: category.id,
        products: [['create', [input.cost_price === undefined ? {} : { cost_price: toDecimal(input.cost_price, currency.digits) }]]],
      },
    ],
  ]);
  const [template] = await client.model<Array<{ products: number[] }>>('product.template', 'read', [[templateId], ['products']], { active_test: false });
  const productId = template?.products[0];
  if (productId === undefined) throw new PermanentError(`Tryton created template ${templateId} for ${input.sku} without a variant`);
  return { template_id: templateId!, product_id: productId, code: input.sku, created: true };
}
