import { createHash } from 'node:crypto';
import { expectOk, sendHttp } from '../http-call.js';
import { PermanentError, RetryableError } from '../types.js';
import type { OAuth2Config } from './manifest.js';

/**
 * OAuth2 client credentials (RFC 6749 §4.4). Tokens are cached per system
 * until shortly before they expire, and callers that need one at the same
 * time share a single fetch, so a burst of deliveries costs one token call.
 */

interface Token {
  value: string;
  /** When to stop using it (ms epoch), already minus the safety margin. */
  useUntil: number;
}

interface Entry {
  token?: Token;
  pending?: Promise<Token>;
}

const cache = new Map<string, Entry>();

/** Refresh this long before expiry, so a token never expires in flight. */
const MARGIN_MS = 60_000;
/** RFC 6749 lets a server omit expires_in; assume a short life rather than a long one. */
const DEFAULT_LIFETIME_S = 300;
const TOKEN_TIMEOUT_MS = 30_000;

// The key covers everything that changes which token we get; the secret is
// hashed so a rotated secret takes effect at once without keeping it in keys.
function keyOf(system: string, cfg: OAuth2Config): string {
  const secret = createHash('sha256').update(cfg.client_secret).digest('hex').slice(0, 16);
  return [system, cfg.token_url, cfg.client_id, secret, cfg.scope ?? '', cfg.audience ?? '', cfg.client_auth ?? 'basic'].join('\n');
}

/** A valid access token: the cached one, the one being fetched, or a new fetch. */
export async function oauth2Token(system: string, cfg: OAuth2Config, signal: AbortSignal, timeoutMs?: number): Promise<string> {
  const key = keyOf(system, cfg);
  let entry = cache.get(key);
  if (!entry) cache.set(key, (entry = {}));
  if (entry.token && entry.token.useUntil > Date.now()) return entry.token.value;
  let pending = entry.pending;
  if (!pending) {
    const e = entry;
    // Not tied to one caller's signal: another caller may still want the
    // token after the first gives up. Bounded by its own timeout instead.
    pending = e.pending = fetchToken(cfg, timeoutMs ?? TOKEN_TIMEOUT_MS).then(
      (token) => {
        e.token = token;
        delete e.pending;
        return token;
      },
      (err: unknown) => {
        delete e.pending;
        throw err;
      },
    );
  }
  return (await untilAborted(pending, signal)).value;
}

/** Forgets `token` (the destination refused it), unless a newer one already replaced it. */
export function dropOAuth2Token(system: string, cfg: OAuth2Config, token: string): void {
  const entry = cache.get(keyOf(system, cfg));
  if (entry?.token?.value === token) delete entry.token;
}

export function clearOAuth2Tokens(): void {
  cache.clear();
}

async function fetchToken(cfg: OAuth2Config, timeoutMs: number): Promise<Token> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (cfg.scope) form.set('scope', cfg.scope);
  if (cfg.audience) form.set('audience', cfg.audience);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if ((cfg.client_auth ?? 'basic') === 'basic') {
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    const pair = `${formEncode(cfg.client_id)}:${formEncode(cfg.client_secret)}`;
    headers['authorization'] = `Basic ${Buffer.from(pair).toString('base64')}`;
  } else {
    form.set('client_id', cfg.client_id);
    form.set('client_secret', cfg.client_secret);
  }
  let url: URL;
  try {
    url = new URL(cfg.token_url);
  } catch {
    throw new PermanentError(`the OAuth2 token_url ${cfg.token_url} is not a URL`);
  }
  const started = Date.now();
  const res = await sendHttp({ method: 'POST', url, headers, body: form.toString(), signal: AbortSignal.timeout(timeoutMs) });
  if (res.status === 400 || res.status === 401) {
    const code = oauthErrorCode(res.body);
    throw new PermanentError(
      `the OAuth2 token endpoint rejected the client (HTTP ${res.status}${code ? `, ${code}` : ''}): check client_id, client_secret, client_auth and scope`,
      { summary: res.summary },
    );
  }
  if (res.status === 403) {
    throw new PermanentError('the OAuth2 token endpoint refused the client (HTTP 403)', { summary: res.summary });
  }
  expectOk(res);
  const body = res.body as { access_token?: unknown; expires_in?: unknown } | null;
  if (typeof body?.access_token !== 'string' || body.access_token === '') {
    throw new PermanentError('the OAuth2 token endpoint answered without an access_token', { summary: { request: res.summary.request, status: res.status } });
  }
  const lifetimeS = Number(body.expires_in ?? DEFAULT_LIFETIME_S);
  const lifetimeMs = Number.isFinite(lifetimeS) && lifetimeS > 0 ? lifetimeS * 1000 : DEFAULT_LIFETIME_S * 1000;
  // Short-lived tokens (≤ 2 min) would never be reused with a fixed 60 s margin; use half their life instead.
  const margin = Math.min(MARGIN_MS, lifetimeMs / 2);
  return { value: body.access_token, useUntil: started + lifetimeMs - margin };
}

function formEncode(s: string): string {
  return new URLSearchParams({ v: s }).toString().slice(2);
}

function oauthErrorCode(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | null)?.error;
  return typeof error === 'string' && /^[\x20-\x7e]{1,64}$/.test(error) ? error : undefined;
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new RetryableError('aborted while waiting for an OAuth2 token'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new RetryableError('aborted while waiting for an OAuth2 token'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
