import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { CausewayError, isCausewayError } from '../errors.js';
import { isJsonContentType, parseJsonBody } from '../intake/body.js';
import { checkAdminToken } from './auth.js';
import type { HubContext } from './context.js';
import { registerOpenApi } from './openapi.js';
import { inboundRoutes } from './routes/inbound.js';
import { inboxRoutes } from './routes/inbox.js';
import { opsRoutes } from './routes/ops.js';
import { recordRoutes } from './routes/records.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { ledgerRoutes } from './routes/ledger.js';
import { statusRoutes } from './routes/status.js';
import { backfillRoutes } from './routes/backfills.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The handler reads `request.body` as the raw Buffer (signatures are computed over raw bytes). */
    rawBody?: boolean;
    /** Open to anyone (health checks, metrics, docs). */
    public?: boolean;
  }
}

/**
 * The HTTP face of the hub. Every body is read as raw bytes by one parser
 * (so the content type chooses how it is parsed, never the body), and every
 * error leaves through one handler in one shape.
 */
export async function buildServer(ctx: HubContext): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.settings.bodyLimit,
    // Names of routes are ours; reject odd paths instead of guessing.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    return503OnClosing: true,
    forceCloseConnections: false,
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', strict: false } },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // JSON routes get their body parsed with the same guards as intake.
  app.addHook('preValidation', async (req: FastifyRequest) => {
    if (req.routeOptions.config.rawBody || req.body === undefined) return;
    if (!Buffer.isBuffer(req.body)) return;
    if (!isJsonContentType(req.headers['content-type'])) {
      throw new CausewayError('unsupported_media_type', 'the body must be application/json');
    }
    req.body = parseJsonBody(req.body, { maxDepth: ctx.settings.maxJsonDepth });
  });

  // The management API: one check for every route that is not explicitly public or system-authenticated.
  app.addHook('onRequest', async (req) => {
    const cfg = req.routeOptions.config;
    if (cfg.public || cfg.rawBody || !ctx.settings.adminToken) return;
    if (req.routeOptions.url === undefined) return; // 404s are answered by the not-found handler
    checkAdminToken(req.headers, ctx.settings.adminToken);
  });

  app.setErrorHandler((err: FastifyError | CausewayError, req, reply) => {
    const e = toCausewayError(err);
    if (e.status >= 500) ctx.log.error({ err, url: req.url }, 'request failed');
    void reply.code(e.status).type('application/json').send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new CausewayError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`);
    void reply.code(404).send(e.toJSON());
  });

  await registerOpenApi(app);
  await app.register(opsRoutes(ctx));
  await app.register(inboundRoutes(ctx));
  await app.register(recordRoutes(ctx));
  await app.register(inboxRoutes(ctx));
  await app.register(deliveryRoutes(ctx));
  await app.register(ledgerRoutes(ctx));
  await app.register(statusRoutes(ctx));
  await app.register(backfillRoutes(ctx));
  return app;
}

function toCausewayError(err: FastifyError | CausewayError): CausewayError {
  if (isCausewayError(err)) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    return new CausewayError('validation_failed', `invalid ${fe.validationContext ?? 'request'}`, {
      details: fe.validation.map((v) => {
        const params = v.params as { additionalProperty?: string; missingProperty?: string };
        if (v.keyword === 'additionalProperties') return { path: `${v.instancePath}/${String(params.additionalProperty)}`, message: 'unknown field' };
        if (v.keyword === 'required') return { path: `${v.instancePath}/${String(params.missingProperty)}`, message: 'is required' };
        return { path: v.instancePath || '/', message: v.message ?? 'invalid' };
      }),
    });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new CausewayError('payload_too_large', 'the body is larger than the limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new CausewayError('bad_request', fe.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new CausewayError('invalid_json', 'the body is empty');
    default:
      if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new CausewayError('bad_request', fe.message);
      return new CausewayError('internal', 'internal error', { cause: err });
  }
}
