import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { actorOf } from '../../audit/actor.js';
import { CausewayError } from '../../errors.js';
import { newTraceId, traceIdFromTraceparent } from '../../ids.js';
import { eraseCustomer } from '../../privacy/erasure.js';
import { getErasure, listErasureActions, listErasures, type Erasure, type ErasureActionRow } from '../../store/erasures.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** An erasure as the API shows it: ids, systems and outcomes; never the erased values nor a pending request's input. */
export function erasureJson(e: Erasure, actions: readonly ErasureActionRow[] | undefined) {
  return {
    id: e.id,
    entity: e.entity,
    subject_id: e.subjectId,
    status: e.status,
    records: e.records,
    inbox_purged: e.inboxPurged,
    attempts_purged: e.attemptsPurged,
    requested_by: e.requestedBy,
    trace_id: e.traceId,
    created_at: iso(e.createdAt),
    updated_at: iso(e.updatedAt),
    finished_at: iso(e.finishedAt),
    ...(actions
      ? {
          systems: actions.map((a) => ({
            system: a.system,
            action: a.action,
            external_id: a.externalId,
            status: a.status,
            attempts: a.attempts,
            next_at: a.status === 'pending' ? iso(a.nextAt) : null,
            request: a.request,
            last_status: a.lastStatus,
            error: a.error,
            done_at: iso(a.doneAt),
          })),
        }
      : {}),
  };
}

export function erasureRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.post<{ Params: { id: string } }>(
      '/v1/customers/:id/erase',
      {
        config: { permission: 'erasure.execute' },
        schema: {
          summary: "Erase a customer's personal data here and in every system that holds them",
          description:
            'Removes the personal data of the customer, its orders, invoices and shipments (current records and history), empties the raw inbox payloads and attempts that carried it, and queues an erasure request to every system holding one of those records. 202 for a new erasure, 200 when the customer was erased before (it runs again: new data is erased, failed systems are asked again). Follow the outcome with GET /v1/erasures/{id}.',
          tags: ['privacy'],
          params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req, reply) => {
        const who = actorOf(req);
        const traceId = traceIdFromTraceparent(req.headers.traceparent as string | undefined) ?? newTraceId();
        const r = await eraseCustomer(ctx.db, ctx.project(), { customerId: req.params.id, requestedBy: who.actor, traceId, ip: who.ip, userAgent: who.userAgent ?? undefined });
        return reply.code(r.created ? 202 : 200).send(erasureJson(r.erasure, r.actions));
      },
    );

    app.get<{ Params: { id: number } }>(
      '/v1/erasures/:id',
      {
        config: { permission: 'erasure.execute' },
        schema: {
          summary: 'One erasure: what was erased here, and the outcome in each system',
          tags: ['privacy'],
          params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const e = await getErasure(ctx.db, req.params.id);
        if (!e) throw new CausewayError('not_found', `no erasure ${req.params.id}`);
        return erasureJson(e, await listErasureActions(ctx.db, e.id));
      },
    );

    app.get<{ Querystring: { limit?: number } }>(
      '/v1/erasures',
      {
        config: { permission: 'erasure.execute' },
        schema: {
          summary: 'Erasures, newest first',
          tags: ['privacy'],
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const list = await listErasures(ctx.db, req.query.limit ?? 50);
        return { erasures: list.map((e) => erasureJson(e, undefined)) };
      },
    );
  };
}
