import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CausewayError } from '../../errors.js';
import { listActivity, type ActivityCursor, type ActivityEvent, type ActivityFilter } from '../../store/activity.js';
import type { HubContext } from '../context.js';
import { ActivityFeed } from '../dashboard/activity-feed.js';
import { ErrorResponse } from '../schemas.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function activityJson(e: ActivityEvent) {
  const { position: _position, at, ...rest } = e;
  return { ...rest, at: iso(at) };
}

const FilterSchema = {
  kind: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('delivery')])),
  system: Type.Optional(Type.String({ maxLength: 64 })),
  entity: Type.Optional(Type.String({ maxLength: 64 })),
  flow: Type.Optional(Type.String({ maxLength: 64 })),
  status: Type.Optional(Type.String({ maxLength: 32, description: 'an inbox status (received, processed, failed) or a delivery status' })),
  record_id: Type.Optional(Type.String({ maxLength: 64, description: 'one record’s deliveries' })),
};

type FilterQuery = ActivityFilter;

function filterOf(q: FilterQuery): ActivityFilter {
  const f: ActivityFilter = {};
  for (const k of ['kind', 'system', 'entity', 'flow', 'status', 'record_id'] as const) {
    const v = q[k];
    if (v !== undefined && v !== '') (f as Record<string, string>)[k] = v;
  }
  return f;
}

function encodeCursor(c: ActivityCursor): string {
  return Buffer.from(JSON.stringify([c.inboxBefore ?? null, c.deliveryBefore ?? null])).toString('base64url');
}

function decodeCursor(s: string): ActivityCursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2) {
      const [i, d] = v as [unknown, unknown];
      const c: ActivityCursor = {};
      if (typeof i === 'number') c.inboxBefore = i;
      if (Array.isArray(d) && typeof d[0] === 'number' && typeof d[1] === 'number') c.deliveryBefore = [d[0], d[1]];
      return c;
    }
  } catch {
    // fall through
  }
  throw new CausewayError('validation_failed', 'cursor is not valid', { details: [{ path: '/cursor', message: 'not a cursor from this API' }] });
}

/**
 * What moved just now: inbound messages and deliveries, newest first
 * (paged), and the same live as server-sent events. The stream takes the
 * same bearer token as every route (browsers read it with fetch(), which
 * can send the header; EventSource cannot).
 */
export function activityRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    const feed = new ActivityFeed(ctx.db, ctx.log);
    const streams = new Set<() => void>();
    // Open streams would keep the server from closing: end them first.
    app.addHook('preClose', async () => {
      for (const end of [...streams]) end();
      feed.stop();
    });

    app.get<{ Querystring: FilterQuery & { limit?: number; cursor?: string } }>(
      '/v1/activity',
      {
        config: { permission: 'activity.read' },
        schema: {
          summary: 'What moved: inbound messages and deliveries, newest first',
          tags: ['dashboard'],
          querystring: Type.Object(
            { ...FilterSchema, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })), cursor: Type.Optional(Type.String({ maxLength: 200 })) },
            { additionalProperties: false },
          ),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const cursor = req.query.cursor !== undefined ? decodeCursor(req.query.cursor) : {};
        const page = await listActivity(ctx.db, filterOf(req.query), req.query.limit ?? 50, cursor);
        return { events: page.events.map(activityJson), next_cursor: page.next ? encodeCursor(page.next) : null };
      },
    );

    app.get<{ Querystring: FilterQuery }>(
      '/v1/activity/stream',
      {
        config: { permission: 'activity.read' },
        schema: {
          summary: 'What moves, live: server-sent events (`event: activity`, data: a list of events), filtered like /v1/activity',
          description: 'A comment line every 15 s keeps proxies from closing the stream. Read it with fetch() and the Authorization header.',
          tags: ['dashboard'],
          querystring: Type.Object(FilterSchema, { additionalProperties: false }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const filter = filterOf(req.query);
        const res = reply.raw;
        let closed = false;
        // Subscribed before the answer starts, so a database error is still an ordinary error answer.
        const unsubscribe = await feed.subscribe({
          filter,
          send: (events) => {
            if (!closed) res.write(`event: activity\ndata: ${JSON.stringify(events.map(activityJson))}\n\n`);
          },
        });
        reply.hijack();
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        res.write(': activity stream\n\n');
        const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
        const end = () => {
          if (closed) return;
          closed = true;
          clearInterval(keepAlive);
          unsubscribe();
          streams.delete(end);
          res.end();
        };
        streams.add(end);
        req.raw.on('close', end);
        res.on('error', end);
        // Gone while we subscribed: its close event has passed.
        if (req.raw.destroyed || res.destroyed) end();
      },
    );
  };
}
