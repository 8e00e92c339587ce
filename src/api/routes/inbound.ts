import { Type } from '@sinclair/typebox';
import { enforce, limiterFor, systemRate } from '../rate-limit.js';
import type { FastifyPluginAsync } from 'fastify';
import { CausewayError } from '../../errors.js';
import { traceIdFromTraceparent } from '../../ids.js';
import { authenticateSystem } from '../../intake/authenticate.js';
import { decodeJsonBody, isJsonContentType } from '../../intake/body.js';
import { newIntakeTraceId } from '../../intake/trace-ids.js';
import { ErrorResponse } from '../schemas.js';
import type { HubContext } from '../context.js';

const Accepted = Type.Object(
  {
    id: Type.Integer({ description: 'the inbox message id (GET /v1/inbox/{id})' }),
    status: Type.Union([Type.Literal('accepted'), Type.Literal('duplicate')]),
    trace_id: Type.String(),
  },
  { $id: 'InboundAccepted' },
);

const MAX_EVENT_ID = 256;

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Counts an inbound message (a plain function: no closure per request). */
function count(ctx: HubContext, known: boolean, system: string, topic: string, outcome: string): void {
  ctx.metrics.inbound.inc({ system: known ? system : '(unknown)', topic: known ? topic : '(unknown)', outcome });
}

function hasBom(raw: Buffer): boolean {
  return raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf;
}

function pick(payload: unknown, path: string[]): string | undefined {
  let cur: unknown = payload;
  for (const seg of path) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (typeof cur === 'string' && cur.length > 0) return cur;
  if (typeof cur === 'number' && Number.isFinite(cur)) return String(cur);
  return undefined;
}

/**
 * `POST /v1/inbound/{system}/{topic}`: authenticate, check, parse, commit to
 * the inbox, and only then answer 202. A repeat of a source event id answers
 * 200 with the original message id.
 */
export function inboundRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { system: string; topic: string } }>(
      '/v1/inbound/:system/:topic',
      {
        config: { rawBody: true, systemAuth: true },
        schema: {
          summary: 'Receive a message from a connected system',
          tags: ['intake'],
          params: Type.Object({ system: Type.String(), topic: Type.String() }),
          response: { 200: Accepted, 202: Accepted, '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const { system: systemName, topic: topicName } = req.params;
        const project = ctx.project();
        const system = project.systems.get(systemName);
        try {
          if (!system) throw new CausewayError('unknown_system', `no system named ${systemName}`);
          const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          authenticateSystem(system, req.headers, raw);
          // Per key, after authentication: a caller without the key cannot spend the system's budget.
          enforce(limiterFor(ctx), reply, `system:${systemName}`, systemRate(project, systemName), `system ${systemName}`);
          const topic = system.topics.get(topicName);
          if (!topic) throw new CausewayError('unknown_topic', `system ${systemName} has no topic ${topicName}`);
          const contentType = req.headers['content-type'];
          if (!isJsonContentType(contentType)) {
            throw new CausewayError('unsupported_media_type', `expected application/json, got ${contentType ?? 'no content type'}`);
          }
          // Decoded once: the text is both parsed and stored.
          const { text, value: payload } = decodeJsonBody(raw, { maxDepth: ctx.settings.maxJsonDepth });
          const eventId =
            header(req.headers['webhook-id']) ?? header(req.headers['idempotency-key']) ?? (topic.eventIdPath ? pick(payload, topic.eventIdPath) : undefined);
          if (eventId !== undefined && (eventId.length === 0 || eventId.length > MAX_EVENT_ID)) {
            throw new CausewayError('bad_request', `the event id must be 1 to ${MAX_EVENT_ID} characters`, { details: [{ path: 'webhook-id', message: 'bad length' }] });
          }
          const traceId = traceIdFromTraceparent(header(req.headers.traceparent)) ?? newIntakeTraceId();
          const accepted = await ctx.writer.submit({
            system: systemName,
            topic: topicName,
            eventId,
            contentType: contentType ?? 'application/json',
            // The decoder dropped a leading BOM; store the bytes as received.
            body: hasBom(raw) ? raw.toString('utf8') : text,
            traceId,
            receivedAt: Date.now(),
            // Normalized in intake's transaction without parsing the body again.
            payload,
          });
          count(ctx, system !== undefined, systemName, topicName, accepted.duplicate ? 'duplicate' : 'accepted');
          return reply.code(accepted.duplicate ? 200 : 202).send({
            id: accepted.id,
            status: accepted.duplicate ? 'duplicate' : 'accepted',
            trace_id: accepted.traceId,
          });
        } catch (e) {
          count(ctx, system !== undefined, systemName, topicName, 'rejected');
          throw e;
        }
      },
    );
  };
}
