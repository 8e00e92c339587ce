import { Type, type Static } from '@sinclair/typebox';
import { errorMessage } from '../../errors.js';
import { signStandardWebhook } from '../../intake/signatures.js';
import { closeHttpAgent, httpCall, sendHttp, traceparent } from '../http-call.js';
import { HttpOutput } from '../http/manifest.js';
import { fillPath, joinUrl, mergeHeaders, valueAt } from '../http/template.js';
import { checker } from '../http/validate.js';
import { PermanentError, type ActionContext, type ActionResult, type CheckContext, type CheckResult, type Connector, type ConnectorManifest } from '../types.js';

/**
 * The `webhook` connector sends Standard Webhooks (https://www.standardwebhooks.com):
 * a JSON POST signed with HMAC-SHA256 over `id.timestamp.body`. The same kind
 * names systems that only *send us* webhooks (their inbound auth lives under
 * `systems.<name>.auth`), so every config key is optional.
 */

const WebhookConfig = Type.Object(
  {
    url: Type.Optional(Type.String({ pattern: '^https?://[^\\s/?#]+', description: 'where `send` delivers' })),
    secret: Type.Optional(Type.String({ pattern: '^whsec_[A-Za-z0-9+/]{16,}={0,2}$', description: 'whsec_<base64>, shared with the receiver' })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 600_000 })),
  },
  { additionalProperties: false },
);
type WebhookConfig = Static<typeof WebhookConfig>;

const SendOptions = Type.Object(
  { path: Type.Optional(Type.String({ description: 'appended to url; {a.b} is filled from the input, URL-encoded' })) },
  { additionalProperties: false },
);

const manifest: ConnectorManifest = {
  kind: 'webhook',
  description: 'Sends signed Standard Webhooks to a URL; also the kind for systems that only send webhooks to the hub.',
  config: WebhookConfig,
  secrets: ['secret'],
  actions: {
    send: {
      description: 'POSTs the input as JSON, signed (webhook-id = the idempotency key, webhook-timestamp, webhook-signature).',
      input: Type.Unknown({ description: 'any JSON: the event payload' }),
      options: SendOptions,
      output: HttpOutput,
      // Standard Webhooks receivers deduplicate on webhook-id, which is stable across attempts.
      idempotent: true,
    },
  },
};

const parseConfig = checker(WebhookConfig, 'the webhook system config');
const parseOptions = checker(SendOptions, 'the send options (do.with)');

async function send(input: unknown, ctx: ActionContext): Promise<ActionResult> {
  const config = parseConfig(ctx.config);
  if (!config.url) throw new PermanentError(`system ${ctx.system} has no config.url: it can receive webhooks but not be sent one`);
  const options = parseOptions(ctx.options);
  const url = joinUrl(config.url, fillPath(options.path ?? '', (p) => valueAt(input, p)));
  // Sign exactly the bytes we send.
  const raw = JSON.stringify(input ?? null);
  const timestamp = Math.floor(Date.now() / 1000);
  const protocol: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'causeway',
    'idempotency-key': ctx.idempotencyKey,
    'webhook-id': ctx.idempotencyKey,
    'webhook-timestamp': String(timestamp),
    traceparent: traceparent(ctx.traceId),
  };
  // Without a secret the message goes unsigned: allowed for receivers that do not verify, and logged.
  if (config.secret) protocol['webhook-signature'] = signStandardWebhook(ctx.idempotencyKey, timestamp, Buffer.from(raw), config.secret);
  else ctx.log.debug({ system: ctx.system }, 'webhook sent unsigned: the system has no config.secret');
  // Protocol headers last: configured headers must not break the signature.
  const headers = mergeHeaders(config.headers, protocol);
  const timeout = config.timeout_ms === undefined ? {} : { timeoutMs: config.timeout_ms };
  const res = await httpCall({ method: 'POST', url, headers, body: raw, signal: ctx.signal, egress: ctx.egress, ...timeout });
  if (res.truncated) ctx.log.warn({ system: ctx.system, request: res.summary.request }, 'the response body is over 1 MiB; output.body is null');
  return { output: { status: res.status, headers: res.headers, body: res.body }, summary: res.summary };
}

async function check(ctx: CheckContext): Promise<CheckResult> {
  let config: WebhookConfig;
  try {
    config = parseConfig(ctx.config);
  } catch (e) {
    return { ok: false, problem: 'misconfigured', message: errorMessage(e) };
  }
  if (!config.url) return { ok: true, message: 'no url: this system only sends webhooks to the hub' };
  try {
    // An unsigned HEAD: any answer (even 401 or 405) shows the receiver is there; credentials are our signature, not theirs.
    const timeout = config.timeout_ms === undefined ? {} : { timeoutMs: config.timeout_ms };
    const res = await sendHttp({ method: 'HEAD', url: joinUrl(config.url, ''), headers: mergeHeaders(config.headers), signal: ctx.signal, egress: ctx.egress, ...timeout });
    return { ok: true, message: `${res.summary.request} is reachable (HTTP ${res.status})` };
  } catch (e) {
    return { ok: false, problem: e instanceof PermanentError ? 'misconfigured' : 'unreachable', message: errorMessage(e) };
  }
}

export const webhookConnector: Connector = {
  manifest,
  async act(action, input, ctx) {
    if (action !== 'send') throw new PermanentError(`the webhook connector has no action "${action}"`);
    return send(input, ctx);
  },
  check,
  async close() {
    await closeHttpAgent();
  },
};
