import type { Egress } from '../../net/egress.js';
import { expectOk, sendHttp } from '../http-call.js';
import { PermanentError } from '../types.js';

/**
 * One call to an OAuth 2.0 token endpoint (RFC 6749 §3.2): the client
 * authenticates with its id and secret, the form says which grant.
 */
export interface TokenClient {
  token_url: string;
  client_id: string;
  client_secret: string;
  client_auth?: 'basic' | 'body' | undefined;
}

export interface IssuedToken {
  accessToken: string;
  /** When to stop using it (ms epoch), already minus the safety margin. */
  useUntil: number;
  /** A new refresh token, when the server rotates them. */
  refreshToken: string | undefined;
}

/** Refresh this long before expiry, so a token never expires in flight. */
const MARGIN_MS = 60_000;
/** RFC 6749 lets a server omit expires_in; assume a short life rather than a long one. */
const DEFAULT_LIFETIME_S = 300;

/** The server refused the grant itself (RFC 6749 §5.2 `invalid_grant`): the refresh token is revoked or expired. */
export class InvalidGrantError extends PermanentError {
  constructor(message: string, summary: { request: string; status?: number }) {
    super(message, { summary });
    this.name = 'InvalidGrantError';
  }
}

export async function requestToken(client: TokenClient, grant: Record<string, string>, options: { timeoutMs: number; egress: Egress }): Promise<IssuedToken> {
  const form = new URLSearchParams(grant);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if ((client.client_auth ?? 'basic') === 'basic') {
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    const pair = `${formEncode(client.client_id)}:${formEncode(client.client_secret)}`;
    headers['authorization'] = `Basic ${Buffer.from(pair).toString('base64')}`;
  } else {
    form.set('client_id', client.client_id);
    form.set('client_secret', client.client_secret);
  }
  let url: URL;
  try {
    url = new URL(client.token_url);
  } catch {
    throw new PermanentError(`the OAuth2 token_url ${client.token_url} is not a URL`);
  }
  const started = Date.now();
  const res = await sendHttp({ method: 'POST', url, headers, body: form.toString(), signal: AbortSignal.timeout(options.timeoutMs), egress: options.egress });
  // The body of a token answer holds tokens: it never goes to the attempt log.
  const summary = { request: res.summary.request, status: res.status };
  if (res.status === 400 || res.status === 401) {
    const code = oauthErrorCode(res.body);
    if (code === 'invalid_grant' && grant['grant_type'] === 'refresh_token') {
      throw new InvalidGrantError(`the OAuth2 token endpoint refused the refresh token (HTTP ${res.status}, invalid_grant): it was revoked or has expired`, summary);
    }
    throw new PermanentError(
      `the OAuth2 token endpoint rejected the client (HTTP ${res.status}${code ? `, ${code}` : ''}): check client_id, client_secret, client_auth and scope`,
      { summary },
    );
  }
  if (res.status === 403) throw new PermanentError('the OAuth2 token endpoint refused the client (HTTP 403)', { summary });
  expectOk({ ...res, summary });
  const body = res.body as { access_token?: unknown; expires_in?: unknown; refresh_token?: unknown } | null;
  if (typeof body?.access_token !== 'string' || body.access_token === '') {
    throw new PermanentError('the OAuth2 token endpoint answered without an access_token', { summary });
  }
  const lifetimeS = Number(body.expires_in ?? DEFAULT_LIFETIME_S);
  const lifetimeMs = Number.isFinite(lifetimeS) && lifetimeS > 0 ? lifetimeS * 1000 : DEFAULT_LIFETIME_S * 1000;
  // Short-lived tokens (≤ 2 min) would never be reused with a fixed 60 s margin; use half their life instead.
  const margin = Math.min(MARGIN_MS, lifetimeMs / 2);
  const refreshToken = typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : undefined;
  return { accessToken: body.access_token, useUntil: started + lifetimeMs - margin, refreshToken };
}

function formEncode(s: string): string {
  return new URLSearchParams({ v: s }).toString().slice(2);
}

function oauthErrorCode(body: unknown): string | undefined {
  const error = (body as { error?: unknown } | null)?.error;
  return typeof error === 'string' && /^[\x20-\x7e]{1,64}$/.test(error) ? error : undefined;
}
