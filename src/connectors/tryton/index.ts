import { closeHttpAgent } from '../http-call.js';
import { checker } from '../http/validate.js';
import { PermanentError, type ActionContext, type ActionResult, type Connector, type PollResult, type SourceContext } from '../types.js';
import { check } from './check.js';
import { upsertCustomer } from './customer.js';
import { CustomerInput, manifest, PollOptions, ProductInput, SaleInput, SaleOptions, StockOptions, TrytonConfig } from './manifest.js';
import { upsertProduct } from './product.js';
import { clearRefData } from './refdata.js';
import { clearSessions, TrytonClient } from './rpc.js';
import { createSale } from './sale.js';
import { pollInvoices } from './sources/invoices.js';
import { pollSales } from './sources/sales.js';
import { pollShipments } from './sources/shipments.js';
import { pollStock } from './sources/stock.js';

/**
 * The `tryton` connector: a Tryton ERP over JSON-RPC. Actions write
 * customers, products and confirmed sales; poll sources bring sale states,
 * done shipments, posted and paid invoices and stock levels back. See
 * docs/connectors.md#tryton and ARCHITECTURE.md in this folder.
 */

const parseConfig = checker(TrytonConfig, 'the tryton system config');
const parseCustomer = checker(CustomerInput, 'the upsert_customer input');
const parseProduct = checker(ProductInput, 'the upsert_product input');
const parseSale = checker(SaleInput, 'the create_sale input');
const parseSaleOptions = checker(SaleOptions, 'the create_sale options (do.with)');
const parsePollOptions = checker(PollOptions, 'the source options');
const parseStockOptions = checker(StockOptions, 'the stock source options');

async function act(action: string, input: unknown, ctx: ActionContext): Promise<ActionResult> {
  const config = parseConfig(ctx.config);
  const client = new TrytonClient(config, ctx.signal, ctx.egress, ctx.log);
  let output: unknown;
  switch (action) {
    case 'upsert_customer':
      output = await upsertCustomer(client, parseCustomer(input));
      break;
    case 'upsert_product':
      output = await upsertProduct(client, config, parseProduct(input));
      break;
    case 'create_sale':
      output = await createSale(client, config, parseSale(input), parseSaleOptions(ctx.options));
      break;
    default:
      throw new PermanentError(`the tryton connector has no action "${action}"`);
  }
  return { output, summary: client.lastSummary };
}

async function poll(source: string, cursor: unknown, ctx: SourceContext): Promise<PollResult> {
  const client = new TrytonClient(parseConfig(ctx.config), ctx.signal, ctx.egress, ctx.log);
  switch (source) {
    case 'sales':
      return pollSales(client, cursor, parsePollOptions(ctx.options), ctx.source);
    case 'shipments':
      return pollShipments(client, cursor, parsePollOptions(ctx.options), ctx.source);
    case 'invoices':
      return pollInvoices(client, cursor, parsePollOptions(ctx.options), ctx.source);
    case 'stock':
      return pollStock(client, cursor, parseStockOptions(ctx.options), ctx.source);
    default:
      throw new PermanentError(`the tryton connector has no source "${source}"`);
  }
}

export const trytonConnector: Connector = {
  manifest,
  act,
  poll,
  check,
  async close() {
    clearSessions();
    clearRefData();
    // The pool is shared with the http connectors; closing it twice is harmless.
    await closeHttpAgent();
  },
};
