import { errorMessage } from '../../errors.js';
import { closeHttpAgent, expectOk, sendHttp, traceparent, type HttpResponse } from '../http-call.js';
import { ActionError, PermanentError, type ActionContext, type ActionResult, type CheckContext, type CheckResult, type Connector } from '../types.js';
import { authHeaders } from './auth.js';
import { HttpConfig, manifest, RequestInput, RequestOptions, RESERVED_INPUT_KEYS, type Method, type RequestEnvelope } from './manifest.js';
import { clearOAuth2Tokens, CredentialsRevokedError, dropOAuth2Token, type TokenOptions } from './oauth2.js';
import { fillPath, joinUrl, mergeHeaders, valueAt } from './template.js';
import { checker } from './validate.js';

/**
 * The `http` connector: one action, `request`, that calls any HTTP/JSON API.
 * The system config says where and how to authenticate; the flow's options
 * say which method and path; the input may override both (see RequestInput).
 */

const parseConfig = checker(HttpConfig, 'the http system config');
const parseOptions = checker(RequestOptions, 'the request options (do.with)');
const parseInput = checker(RequestInput, 'the request input');

interface PlannedCall {
  method: Method;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/** Everything about the call but auth, which may need a token fetch (and a second one after a 401). */
function planRequest(config: HttpConfig, options: RequestOptions, input: unknown, ctx: Pick<ActionContext, 'idempotencyKey' | 'traceId'>): PlannedCall {
  const checked = parseInput(input) as RequestEnvelope & Record<string, unknown>;
  const reserved: readonly string[] = RESERVED_INPUT_KEYS;
  const envelope = reserved.some((k) => Object.hasOwn(checked, k));
  if (envelope) {
    // Mixing would be ambiguous (is `path` an override or part of the body?), so it is refused, not guessed.
    const extra = Object.keys(checked).filter((k) => !reserved.includes(k));
    if (extra.length > 0) {
      throw new PermanentError(
        `the request input has envelope keys (${reserved.filter((k) => Object.hasOwn(checked, k)).join(', ')}) and other keys (${extra.join(', ')}): put the body under "body"`,
      );
    }
  }
  const env: RequestEnvelope = envelope ? checked : {};
  const bodyValue: unknown = envelope ? env.body : input;
  // Placeholders read the input; in an envelope they may also name a field of the body.
  const lookup = (p: string): unknown => valueAt(input, p) ?? (envelope ? valueAt(env.body, p) : undefined);

  const method = env.method ?? options.method ?? 'POST';
  const url = joinUrl(config.base_url, fillPath(env.path ?? options.path ?? '', lookup));
  for (const [k, v] of Object.entries(env.query ?? {})) url.searchParams.append(k, String(v));

  // GET has no body: its input only fills the path and query.
  let body: string | undefined;
  if (method !== 'GET' && bodyValue !== undefined) {
    try {
      body = JSON.stringify(bodyValue);
    } catch (e) {
      throw new PermanentError(`the request body cannot be sent as JSON: ${errorMessage(e)}`, { cause: e });
    }
  }
  const base: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'causeway',
    'idempotency-key': ctx.idempotencyKey,
    traceparent: traceparent(ctx.traceId),
  };
  if (body !== undefined) base['content-type'] = 'application/json';
  const headers = mergeHeaders(base, config.headers, options.headers, env.headers);
  return body === undefined ? { method, url, headers } : { method, url, headers, body };
}

async function request(input: unknown, ctx: ActionContext): Promise<ActionResult> {
  const config = parseConfig(ctx.config);
  const call = planRequest(config, parseOptions(ctx.options), input, ctx);
  const timeout = config.timeout_ms === undefined ? {} : { timeoutMs: config.timeout_ms };
  const send = async (): Promise<{ res: HttpResponse; token: string | undefined }> => {
    const auth = await authHeaders(ctx.system, config.auth, tokenOptions(ctx, config.timeout_ms));
    // Auth goes last so no configured or input header can replace the credentials.
    const res = await sendHttp({ ...call, headers: mergeHeaders(call.headers, auth.headers), signal: ctx.signal, egress: ctx.egress, ...timeout });
    return { res, token: auth.oauthToken };
  };

  let { res, token } = await send();
  if (res.status === 401 && token !== undefined && (config.auth?.type === 'oauth2_client_credentials' || config.auth?.type === 'oauth2_authorization_code')) {
    // Revoked or expired early: one retry with a fresh token (refreshed, for authorization code); a second 401 is the destination's final word.
    dropOAuth2Token(ctx.system, config.auth, token);
    ctx.log.info({ system: ctx.system, request: res.summary.request }, 'the OAuth2 token was refused; retrying once with a new one');
    ({ res, token } = await send());
  }
  expectOk(res);
  if (res.truncated) ctx.log.warn({ system: ctx.system, request: res.summary.request }, 'the response body is over 1 MiB; output.body is null');
  return { output: { status: res.status, headers: res.headers, body: res.body }, summary: res.summary };
}

/** What a token fetch needs from the call's context. */
function tokenOptions(ctx: ActionContext | CheckContext, timeoutMs: number | undefined): TokenOptions {
  return { signal: ctx.signal, timeoutMs, egress: ctx.egress, credentials: ctx.credentials, alert: ctx.alert, log: ctx.log };
}

/** What an HTTP status says about a system's reachability and credentials. */
function checkResultFor(status: number, target: string): CheckResult {
  if (status === 401) return { ok: false, problem: 'wrong_credentials', message: `${target} answered 401: the credentials are refused` };
  if (status === 403) return { ok: false, problem: 'missing_permission', message: `${target} answered 403: the credentials lack a permission` };
  // Any other answer (even 404 or 405 for a bare base URL) proves the system is there and took the credentials.
  return { ok: true, message: `${target} is reachable (HTTP ${status})` };
}

/** Why a token fetch failed, as a check result. */
function tokenProblem(e: unknown): CheckResult {
  const message = errorMessage(e);
  if (e instanceof CredentialsRevokedError) return { ok: false, problem: 'wrong_credentials', message };
  if (!(e instanceof ActionError)) return { ok: false, problem: 'misconfigured', message };
  if (e.kind === 'retryable') return { ok: false, problem: 'unreachable', message };
  const status = e.summary?.status;
  if (status === 403 || (status === 400 && /invalid_scope/.test(message))) return { ok: false, problem: 'missing_permission', message };
  if (status === 400 || status === 401) return { ok: false, problem: 'wrong_credentials', message };
  return { ok: false, problem: 'misconfigured', message };
}

async function check(ctx: CheckContext): Promise<CheckResult> {
  let config: HttpConfig;
  let url: URL;
  try {
    config = parseConfig(ctx.config);
    url = joinUrl(config.base_url, '');
  } catch (e) {
    return { ok: false, problem: 'misconfigured', message: errorMessage(e) };
  }
  let auth: Record<string, string>;
  try {
    auth = (await authHeaders(ctx.system, config.auth, tokenOptions(ctx, config.timeout_ms))).headers;
  } catch (e) {
    return tokenProblem(e);
  }
  try {
    // HEAD: no side effects and no body to read, whatever the base URL is.
    const headers = mergeHeaders({ 'user-agent': 'causeway' }, config.headers, auth);
    const timeout = config.timeout_ms === undefined ? {} : { timeoutMs: config.timeout_ms };
    const res = await sendHttp({ method: 'HEAD', url, headers, signal: ctx.signal, egress: ctx.egress, ...timeout });
    return checkResultFor(res.status, res.summary.request);
  } catch (e) {
    return { ok: false, problem: e instanceof PermanentError ? 'misconfigured' : 'unreachable', message: errorMessage(e) };
  }
}

export const httpConnector: Connector = {
  manifest,
  async act(action, input, ctx) {
    if (action !== 'request') throw new PermanentError(`the http connector has no action "${action}"`);
    return request(input, ctx);
  },
  check,
  async close() {
    clearOAuth2Tokens();
    await closeHttpAgent();
  },
};
