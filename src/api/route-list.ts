import type { FastifyInstance, RouteOptions } from 'fastify';

/** Every route the server registered, for checks that must cover them all (the authorization matrix test). */
export interface RegisteredRoute {
  method: string;
  url: string;
  /** Read when asked: plugins may still replace a route's config after the onRoute hooks of its parents. */
  readonly route: RouteOptions;
}

const lists = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Starts recording routes; call before any route is registered. */
export function collectRoutes(app: FastifyInstance): void {
  const list: RegisteredRoute[] = [];
  lists.set(app, list);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) list.push({ method, url: route.url, route });
  });
}

export function routesOf(app: FastifyInstance): readonly RegisteredRoute[] {
  return lists.get(app) ?? [];
}
