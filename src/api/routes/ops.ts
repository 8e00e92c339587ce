import type { FastifyPluginAsync } from 'fastify';
import { AggregatorRegistry } from 'prom-client';
import { countReceived } from '../../store/inbox.js';
import type { HubContext } from '../context.js';

/** Health, readiness and metrics: public, cheap, and never touching secrets. */
export function opsRoutes(ctx: HubContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { config: { public: true }, schema: { summary: 'The process is alive', tags: ['operations'] } }, async () => ({ status: 'ok' }));

    app.get(
      '/readyz',
      { config: { public: true }, schema: { summary: 'The hub can take traffic (database reachable, not shutting down)', tags: ['operations'] } },
      async (_req, reply) => {
        if (!ctx.isReady()) return reply.code(503).send({ status: 'not ready' });
        try {
          await ctx.db.get('SELECT 1 AS ok');
        } catch {
          return reply.code(503).send({ status: 'database unreachable' });
        }
        return { status: 'ready' };
      },
    );

    app.get('/metrics', { config: { public: true }, schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_req, reply) => {
      ctx.metrics.inboxBacklog.set(await countReceived(ctx.db));
      const thread = (await ctx.threadMetrics?.()) ?? [];
      if (thread.length === 0) return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
      // The delivery thread counts its deliveries in its own registry; the same metrics here stay at zero, so the sum is the hub's.
      const merged = AggregatorRegistry.aggregate([await ctx.metrics.registry.getMetricsAsJSON(), thread]);
      return reply.type(merged.contentType).send(await merged.metrics());
    });
  };
}
