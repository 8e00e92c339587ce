import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { readSystemStates } from '../../store/delivery-claim.js';
import { backlogBySystem, changesSince, flowCounts, lastFlowError, movedSince, p95LatencyMs } from '../../store/stats.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** How recent "live" is: rates are per minute over the last five minutes. */
const RATE_WINDOW_MS = 5 * 60_000;

const HEALTH = ['ok', 'degraded', 'down', 'idle'] as const;
type Health = (typeof HEALTH)[number];

/**
 * A system's health at a glance: down while its circuit is open, degraded
 * while calls fail (retrying, half-open, dead letters in the window), idle
 * when nothing moved, ok otherwise.
 */
function healthOf(circuit: string, retrying: number, recentDead: number, moved: number): Health {
  if (circuit === 'open') return 'down';
  if (circuit === 'half_open' || retrying > 0 || recentDead > 0) return 'degraded';
  return moved > 0 ? 'ok' : 'idle';
}

/** The system map and the flows view: health, throughput, backlog, rates, errors and latency. */
export function statsRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/stats/systems',
      {
        config: { permission: 'status.read' },
        schema: {
          summary: 'Per system: health, throughput (per minute, last 5 minutes), backlog, circuit, dead letters',
          tags: ['dashboard'],
          response: { '4xx': ErrorResponse },
        },
      },
      async () => {
        const project = ctx.project();
        const since = Date.now() - RATE_WINDOW_MS;
        const [states, backlog, moved, received] = await Promise.all([readSystemStates(ctx.db), backlogBySystem(ctx.db), movedSince(ctx.db, since), changesSince(ctx.db, since)]);
        const perMinute = (n: number) => Math.round((n / (RATE_WINDOW_MS / 60_000)) * 10) / 10;
        return {
          window_minutes: RATE_WINDOW_MS / 60_000,
          systems: [...project.systems.values()].map((s) => {
            const st = states.get(s.name);
            const b = (status: string) => backlog.filter((r) => r.system === s.name && r.status === status).reduce((a, r) => a + r.n, 0);
            const m = (status: string) => moved.filter((r) => r.system === s.name && r.status === status).reduce((a, r) => a + r.n, 0);
            const circuit = st?.circuit ?? 'closed';
            const delivered = m('done');
            const inbound = received.get(s.name) ?? 0;
            return {
              name: s.name,
              kind: s.kind,
              description: s.description ?? null,
              health: healthOf(circuit, b('retrying'), m('dead'), delivered + inbound),
              circuit,
              consecutive_failures: st?.failures ?? 0,
              circuit_opened_at: iso(st?.openedAt),
              throughput: { delivered_per_minute: perMinute(delivered), received_per_minute: perMinute(inbound), failed_per_minute: perMinute(m('dead') + m('retrying')) },
              backlog: { pending: b('pending'), retrying: b('retrying'), in_flight: b('leased') },
              dead_letters: b('dead'),
              flows_in: [...project.flows.values()].filter((f) => f.system === s.name).map((f) => f.name),
            };
          }),
        };
      },
    );

    app.get<{ Querystring: { window_hours?: number } }>(
      '/v1/stats/flows',
      {
        config: { permission: 'status.read' },
        schema: {
          summary: 'Per flow: counts, error rate, p95 latency (queued → done), live rate, last error, enabled',
          tags: ['dashboard'],
          querystring: Type.Object({ window_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 24 * 31, default: 24 })) }, { additionalProperties: false }),
          response: { '4xx': ErrorResponse },
        },
      },
      async (req) => {
        const project = ctx.project();
        const now = Date.now();
        const windowHours = req.query.window_hours ?? 24;
        const since = now - windowHours * 3600_000;
        const [counts, moved] = await Promise.all([flowCounts(ctx.db, since), movedSince(ctx.db, now - RATE_WINDOW_MS)]);
        const flows = [];
        for (const f of project.flows.values()) {
          const n = (status: string) => counts.find((r) => r.flow === f.name && r.status === status)?.n ?? 0;
          const m = (status: string) => moved.filter((r) => r.flow === f.name && r.status === status).reduce((a, r) => a + r.n, 0);
          const [p95, last] = await Promise.all([p95LatencyMs(ctx.db, f.name, since), lastFlowError(ctx.db, f.name, since)]);
          const done = n('done');
          const dead = n('dead');
          flows.push({
            name: f.name,
            description: f.description ?? null,
            enabled: f.enabled,
            when: { entity: f.entity, on: [...f.on] },
            system: f.system,
            action: f.action,
            counts: { done, dead, retrying: n('retrying'), pending: n('pending') + n('leased'), superseded: n('superseded') },
            error_rate: done + dead > 0 ? dead / (done + dead) : 0,
            p95_latency_ms: p95,
            rate_per_minute: Math.round((m('done') / (RATE_WINDOW_MS / 60_000)) * 10) / 10,
            errors_per_minute: Math.round(((m('dead') + m('retrying')) / (RATE_WINDOW_MS / 60_000)) * 10) / 10,
            last_error: last ? { error: last.error, at: iso(last.at), delivery_id: last.delivery_id } : null,
          });
        }
        return { window_hours: windowHours, flows };
      },
    );
  };
}
