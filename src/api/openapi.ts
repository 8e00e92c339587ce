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
  // Each operation says who may call it, from the same route config the auth hook enforces.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as ({ security?: unknown; description?: string } & Record<string, unknown>) | undefined;
    const config = route.config as { public?: boolean; systemAuth?: boolean; permission?: string; systemScope?: string } | undefined;
    if (!schema || !config) return;
    if (config.public) schema.security = [];
    else if (config.systemAuth) schema.security = [{ apiKey: [] }, { bearer: [] }, { webhookSignature: [] }];
    else if (config.permission) {
      const systems = config.systemScope ? ` Systems may call it with their key when \`${config.systemScope}:<entity>\` is in their scopes.` : '';
      schema.description = `${schema.description ? `${schema.description}\n\n` : ''}Permission: \`${config.permission}\`.${systems}`;
    }
  });
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
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API token (admin, operator or viewer; each operation names the permission it needs), or a connected system’s API key where the operation says systems may call it.',
          },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'A connected system’s API key (intake, and records within its scopes).' },
          webhookSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'webhook-signature',
            description: 'Standard Webhooks signature over the raw body (or the HMAC header the system is configured with).',
          },
        },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'intake', description: 'Receiving messages from systems' },
        { name: 'records', description: 'Canonical records' },
        { name: 'operations', description: 'Health and metrics' },
        { name: 'auth', description: 'Who am I, API tokens and the audit log' },
        { name: 'privacy', description: 'Erasing a customer here and in every system that holds them' },
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
