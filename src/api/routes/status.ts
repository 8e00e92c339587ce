import type { FastifyPluginAsync } from 'fastify';
import { readSystemStates } from '../../store/delivery-claim.js';
import type { HubContext } from '../context.js';
import { ErrorResponse } from '../schemas.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Health of every system and flow, for `causeway status` and the dashboard. */
export function statusRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/systems', { config: { permission: 'status.read' }, schema: { summary: 'Systems: circuit, rate limit, backlog, dead letters', tags: ['status'], response: { '4xx': ErrorResponse } } }, async () => {
      const project = ctx.project();
      const [states, live] = await Promise.all([
        readSystemStates(ctx.db),
        // Served by the partial indexes over live and dead deliveries: never a scan of the whole table.
        ctx.db.all<{ system: string; status: string; n: number }>(
          `SELECT system, status, COUNT(*) AS n FROM deliveries WHERE status IN ('pending', 'retrying', 'leased') GROUP BY system, status`,
        ),
      ]);
      const dead = await ctx.db.all<{ system: string; n: number }>(`SELECT system, COUNT(*) AS n FROM deliveries WHERE status = 'dead' GROUP BY system`);
      const count = (system: string, status: string) => Number(live.find((r) => r.system === system && r.status === status)?.n ?? 0);
      return {
        systems: [...project.systems.values()].map((s) => {
          const st = states.get(s.name);
          return {
            name: s.name,
            kind: s.kind,
            description: s.description ?? null,
            topics: [...s.topics.keys()],
            circuit: st?.circuit ?? 'closed',
            consecutive_failures: st?.failures ?? 0,
            circuit_opened_at: iso(st?.openedAt),
            rate_limit: s.delivery.rateLimit ? { per_second: s.delivery.rateLimit.perSecond, burst: s.delivery.rateLimit.burst } : null,
            concurrency: s.delivery.concurrency,
            backlog: { pending: count(s.name, 'pending'), retrying: count(s.name, 'retrying'), in_flight: count(s.name, 'leased') },
            dead_letters: Number(dead.find((r) => r.system === s.name)?.n ?? 0),
          };
        }),
      };
    });

    app.get('/v1/flows', { config: { permission: 'status.read' }, schema: { summary: 'Flows: counts, error rate, last error, enabled', tags: ['status'], response: { '4xx': ErrorResponse } } }, async () => {
      const project = ctx.project();
      const since = Date.now() - 24 * 3600_000;
      // The last day's deliveries per flow, through the (flow, created_at) index.
      const rows = await ctx.db.all<{ flow: string; status: string; n: number }>(
        'SELECT flow, status, COUNT(*) AS n FROM deliveries WHERE created_at >= ? GROUP BY flow, status',
        [since],
      );
      const flows = [];
      for (const f of project.flows.values()) {
        const n = (status: string) => Number(rows.find((r) => r.flow === f.name && r.status === status)?.n ?? 0);
        const last = await ctx.db.get<{ last_error: string; updated_at: number }>(
          `SELECT last_error, updated_at FROM deliveries WHERE flow = ? AND last_error IS NOT NULL ORDER BY created_at DESC LIMIT 1`,
          [f.name],
        );
        const done = n('done');
        const dead = n('dead');
        flows.push({
          name: f.name,
          description: f.description ?? null,
          enabled: f.enabled,
          when: { entity: f.entity, on: [...f.on] },
          system: f.system,
          action: f.action,
          last_24h: { done, dead, retrying: n('retrying'), pending: n('pending') + n('leased'), superseded: n('superseded') },
          error_rate: done + dead > 0 ? dead / (done + dead) : 0,
          last_error: last ? { error: last.last_error, at: iso(last.updated_at) } : null,
        });
      }
      return { flows };
    });
  };
}
