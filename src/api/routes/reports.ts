import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { INVOICE_STATUSES } from '../../canonical/invoice.js';
import { CausewayError } from '../../errors.js';
import { csvLine } from '../../reports/csv.js';
import { invoiceCursorKey, invoicePage, invoiceSummary, ordersPerDay, stockByLocation, stockPage } from '../../reports/queries.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_DAYS = 366;
const Format = Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json', description: 'csv: the whole report as a file' }));

function cursorOf<T extends unknown[]>(s: string | undefined, length: number): T | undefined {
  if (s === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'string')) return v as T;
  } catch {
    // fall through
  }
  throw new CausewayError('validation_failed', 'cursor is not valid', { details: [{ path: '/cursor', message: 'not a cursor from this API' }] });
}
const encode = (v: unknown[]) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Streams a CSV page by page, so an export of 100k rows never sits in memory whole. */
function sendCsv(reply: FastifyReply, name: string, header: string[], pages: () => AsyncGenerator<unknown[][]>) {
  async function* lines() {
    yield csvLine(header);
    for await (const rows of pages()) yield rows.map(csvLine).join('');
  }
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}.csv"`)
    .send(Readable.from(lines()));
}

/** Reports from the canonical data: every team reads the same numbers. */
export function reportRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { from?: string; to?: string; channel?: string; format?: 'json' | 'csv' } }>(
      '/v1/reports/orders',
      {
        config: { permission: 'reports.read' },
        schema: {
          summary: 'Orders and revenue per channel per day (per currency; cancelled and refunded orders earn nothing)',
          tags: ['reports'],
          querystring: Type.Object(
            {
              from: Type.Optional(Type.String({ pattern: DAY.source, description: 'first day (UTC, YYYY-MM-DD); default 29 days before `to`' })),
              to: Type.Optional(Type.String({ pattern: DAY.source, description: 'last day, inclusive; default today' })),
              channel: Type.Optional(Type.String({ maxLength: 100 })),
              format: Format,
            },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const to = req.query.to ?? new Date().toISOString().slice(0, 10);
        const from = req.query.from ?? new Date(Date.parse(to) - 29 * 86_400_000).toISOString().slice(0, 10);
        const days = (Date.parse(to) - Date.parse(from)) / 86_400_000;
        if (!(days >= 0 && days < MAX_DAYS)) {
          throw new CausewayError('validation_failed', `from must be on or before to, at most ${MAX_DAYS} days apart`, { details: [{ path: '/from', message: 'bad range' }] });
        }
        const channel = req.query.channel || undefined;
        const rows = await ordersPerDay(ctx.db, from, to, channel);
        if (req.query.format === 'csv') {
          return sendCsv(reply, `orders-${from}-${to}`, ['day', 'channel', 'currency', 'orders', 'cancelled', 'revenue_minor_units'], async function* () {
            yield rows.map((r) => [r.day, r.channel, r.currency, r.orders, r.cancelled, r.revenue]);
          });
        }
        return { from, to, channel: channel ?? null, rows };
      },
    );

    app.get<{ Querystring: { sku?: string; location?: string; limit?: number; cursor?: string; format?: 'json' | 'csv' } }>(
      '/v1/reports/stock',
      {
        config: { permission: 'reports.read' },
        schema: {
          summary: 'Stock per product and location (keyset-paginated), with totals per location',
          tags: ['reports'],
          querystring: Type.Object(
            {
              sku: Type.Optional(Type.String({ maxLength: 100, description: 'SKUs starting with this' })),
              location: Type.Optional(Type.String({ maxLength: 100 })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
              cursor: Type.Optional(Type.String({ maxLength: 600 })),
              format: Format,
            },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const f = { ...(req.query.sku ? { sku: req.query.sku } : {}), ...(req.query.location ? { location: req.query.location } : {}) };
        if (req.query.format === 'csv') {
          return sendCsv(reply, 'stock', ['sku', 'location', 'on_hand', 'available', 'reserved', 'updated_at'], async function* () {
            let after: [string, string, string] | undefined;
            for (;;) {
              const page = await stockPage(ctx.db, f, 1000, after);
              if (page.length === 0) return;
              yield page.map((r) => [r.sku, r.location, r.on_hand, r.available, r.reserved, new Date(r.updated_at).toISOString()]);
              const last = page[page.length - 1]!;
              after = [last.sku, last.location, last.record_id];
            }
          });
        }
        const limit = req.query.limit ?? 50;
        const after = cursorOf<[string, string, string]>(req.query.cursor, 3);
        const [rows, locations] = await Promise.all([stockPage(ctx.db, f, limit + 1, after), after ? Promise.resolve(null) : stockByLocation(ctx.db, f)]);
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return {
          rows: page.map((r) => ({ ...r, updated_at: new Date(r.updated_at).toISOString() })),
          by_location: locations,
          next_cursor: rows.length > limit && last ? encode([last.sku, last.location, last.record_id]) : null,
        };
      },
    );

    app.get<{ Querystring: { status?: string; limit?: number; cursor?: string; format?: 'json' | 'csv' } }>(
      '/v1/reports/invoices',
      {
        config: { permission: 'reports.read' },
        schema: {
          summary: 'Invoices of a status (default: open) by due date, with the amount due per currency and how many are overdue',
          tags: ['reports'],
          querystring: Type.Object(
            {
              status: Type.Optional(Type.Union(INVOICE_STATUSES.map((s) => Type.Literal(s)), { default: 'open' })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
              cursor: Type.Optional(Type.String({ maxLength: 600 })),
              format: Format,
            },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const status = req.query.status ?? 'open';
        const now = new Date().toISOString();
        const header = ['number', 'status', 'currency', 'total', 'amount_due', 'due_at', 'issued_at', 'overdue', 'customer_id', 'order_id', 'record_id'];
        const line = (r: Awaited<ReturnType<typeof invoicePage>>[number]) => [r.number, r.status, r.currency, r.total, r.amount_due, r.due_at, r.issued_at, r.due_at !== null && r.due_at < now, r.customer_id, r.order_id, r.record_id];
        if (req.query.format === 'csv') {
          return sendCsv(reply, `invoices-${status}`, header, async function* () {
            let after: [string, string] | undefined;
            for (;;) {
              const page = await invoicePage(ctx.db, status, 1000, after);
              if (page.length === 0) return;
              yield page.map(line);
              after = invoiceCursorKey(page[page.length - 1]!);
            }
          });
        }
        const limit = req.query.limit ?? 50;
        const after = cursorOf<[string, string]>(req.query.cursor, 2);
        const [rows, summary] = await Promise.all([invoicePage(ctx.db, status, limit + 1, after), after ? Promise.resolve(null) : invoiceSummary(ctx.db, status, now)]);
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return {
          status,
          rows: page.map((r) => ({ ...r, overdue: r.due_at !== null && r.due_at < now })),
          summary,
          next_cursor: rows.length > limit && last ? encode(invoiceCursorKey(last)) : null,
        };
      },
    );
  };
}
