import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { DEFAULT_TOKEN_RATE, enforce, limiterFor, systemRate } from './rate-limit.js';
import { CausewayError, isCausewayError } from '../errors.js';
import { maskResponse } from '../privacy/response-mask.js';
import { isJsonContentType, parseJsonBody } from '../intake/body.js';
import { actorOf } from '../audit/actor.js';
import { audit } from '../audit/audit.js';
import { Authenticator } from '../auth/authenticate.js';
import { authorize } from '../auth/authorize.js';
import type { Permission } from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';
import type { HubContext } from './context.js';
import { registerOpenApi } from './openapi.js';
import { collectRoutes } from './route-list.js';
import { inboundRoutes } from './routes/inbound.js';
import { inboxRoutes } from './routes/inbox.js';
import { opsRoutes } from './routes/ops.js';
import { recordRoutes } from './routes/records.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { ledgerRoutes } from './routes/ledger.js';
import { statusRoutes } from './routes/status.js';
import { backfillRoutes } from './routes/backfills.js';
import { erasureRoutes } from './routes/erasures.js';
import { tokenRoutes } from './routes/tokens.js';
import { auditRoutes } from './routes/audit.js';
import { activityRoutes } from './routes/activity.js';
import { recordPageRoutes } from './routes/record-pages.js';
import { statsRoutes } from './routes/stats.js';
import { reportRoutes } from './routes/reports.js';
import { secretRoutes } from './routes/secrets.js';
import { uiRoutes } from './routes/ui.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The handler reads `request.body` as the raw Buffer (signatures are computed over raw bytes). */
    rawBody?: boolean;
    /** Open to anyone (health checks, metrics, docs). */
    public?: boolean;
    /** The handler authenticates the calling system itself (intake); see src/auth/authorize.ts. */
    systemAuth?: boolean;
    /** The one permission the route needs (src/auth/permissions.ts). A non-public route without one is refused. */
    permission?: Permission;
    /** Connected systems may call it with their own key, within their read:/write: scopes for the URL's :entity. */
    systemScope?: 'read' | 'write';
    /** A 2xx answer can hold personal data: an unmasked read of it is written to the audit log. */
    personalData?: boolean;
  }
  interface FastifyRequest {
    /** Who is calling; set by the auth hook on every route that is not public or system-authenticated. */
    principal?: Principal;
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

  collectRoutes(app);
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
  const authenticator = new Authenticator(ctx.db, ctx.project, ctx.log);
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (req, reply) => {
    const cfg = req.routeOptions.config;
    if (cfg.public || cfg.systemAuth) return;
    if (req.routeOptions.url === undefined) return; // 404s are answered by the not-found handler
    req.principal = await authenticator.authenticate(req.headers);
    authorize(req.principal, cfg, req.params);
    // Per key: a system shares one bucket between its intake and its API calls.
    const p = req.principal;
    if (p.kind === 'system') enforce(limiterFor(ctx), reply, `system:${p.name}`, systemRate(ctx.project(), p.name), `system ${p.name}`);
    else enforce(limiterFor(ctx), reply, `token:${p.tokenId}`, DEFAULT_TOKEN_RATE, `token ${p.name}`);
  });
  // Every read of unmasked personal data leaves an audit entry (after the answer, so a failed read leaves none).
  // Attached to the routes marked personalData only, so intake pays nothing for it.
  const auditPersonalRead = async (req: FastifyRequest, reply: FastifyReply) => {
    const p = req.principal;
    if (!p?.canSeePersonalData || reply.statusCode >= 300) return;
    await audit(ctx.db, { ...actorOf(req), action: 'personal_data.read', target: `${req.method} ${req.url.split('?')[0]}` }).catch((e: unknown) =>
      ctx.log.error({ err: e, url: req.url }, 'could not write the audit entry of a personal-data read'),
    );
  };
  // Callers not cleared for personal data (viewers, system keys) get it masked, on every route marked personalData.
  const maskPersonalRead = async (req: FastifyRequest, _reply: FastifyReply, payload: unknown) =>
    req.principal && !req.principal.canSeePersonalData ? maskResponse(payload) : payload;
  app.addHook('onRoute', (route) => {
    if (!route.config?.personalData) return;
    route.onResponse = [...[route.onResponse ?? []].flat(), auditPersonalRead];
    route.preSerialization = [...[route.preSerialization ?? []].flat(), maskPersonalRead];
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
  await app.register(erasureRoutes(ctx));
  await app.register(tokenRoutes(ctx));
  await app.register(auditRoutes(ctx));
  // The operator dashboard (/ui/) and the endpoints only it needed first.
  await app.register(activityRoutes(ctx));
  await app.register(recordPageRoutes(ctx));
  await app.register(statsRoutes(ctx));
  await app.register(reportRoutes(ctx));
  await app.register(secretRoutes(ctx));
  await app.register(uiRoutes());
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
