import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { canonicalSchemas } from '../canonical/index.js';

/**
 * OpenAPI 3.1 generated from the same TypeBox schemas that validate the
 * requests, served at /openapi.json, with a readable page at /docs.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  const components: Record<string, unknown> = {};
  for (const s of canonicalSchemas) {
    const id = (s as { $id?: string }).$id;
    if (id) components[id] = s;
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Causeway',
        version: '1',
        description:
          'The integration hub API. Systems post to /v1/inbound with their own key or signature; operators use the management API with a bearer token.',
      },
      components: {
        schemas: components as Record<string, never>,
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'intake', description: 'Receiving messages from systems' },
        { name: 'records', description: 'Canonical records' },
        { name: 'operations', description: 'Health and metrics' },
      ],
    },
  });
  // The docs page and its assets are public, marked so when they are registered.
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), public: true };
    });
    await scope.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' }, staticCSP: true });
  });
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
}
