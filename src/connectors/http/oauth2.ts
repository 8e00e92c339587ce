import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Egress } from '../../net/egress.js';
import { RetryableError, type CredentialStore } from '../types.js';
import type { OAuth2Config } from './manifest.js';
import { InvalidGrantError, requestToken, type IssuedToken } from './oauth2-endpoint.js';

/**
 * OAuth 2.0 for outbound calls: client credentials (RFC 6749 §4.4) and
 * authorization code with refresh tokens (§6).
 *
 * - Access tokens are cached per system until shortly before they expire;
 *   callers that need one at the same time share a single fetch, so a burst
 *   of deliveries costs one token call.
 * - With the hub's secret store (`credentials`), tokens are also kept there,
 *   encrypted: a restarted hub or another process reuses them, and a rotated
 *   refresh token is never lost.
 * - A refresh token the server refuses (`invalid_grant`) is marked revoked
 *   in the store: one alert, and every later call fails at once, without
 *   calling the token endpoint again (no retry storm), until a new refresh
 *   token is set (`causeway secrets set …`), which starts a new lineage.
 */

export interface TokenOptions {
  signal: AbortSignal;
  timeoutMs?: number | undefined;
  egress: Egress;
  credentials?: CredentialStore | undefined;
  alert?: ((message: string) => Promise<void>) | undefined;
  log?: Logger | undefined;
}

/** A refresh token was refused: deliveries wait (retry after a long pause) until a new one is set. */
export class CredentialsRevokedError extends RetryableError {
  constructor(message: string) {
    super(message, { retryAfterMs: REVOKED_RETRY_MS });
    this.name = 'CredentialsRevokedError';
  }
}

/** Deliveries to a system whose refresh token was revoked are retried this much later (each failing at once, locally). */
const REVOKED_RETRY_MS = 300_000;
const TOKEN_TIMEOUT_MS = 30_000;
/** The credential name the tokens are kept under (owner `oauth:<system>`). */
const STATE_NAME = 'oauth2_tokens';

/** What is kept in the store, encrypted as one value. */
interface TokenState {
  v: 1;
  /** Which refresh-token chain this is: token URL, client id and the seed refresh token (hashed). */
  lineage: string;
  /** Which config the access token was issued for (scope, audience, secret…). */
  issuedFor?: string;
  accessToken?: string;
  useUntil?: number;
  refreshToken?: string;
  revoked?: { at: number; reason: string };
}

interface Entry {
  token?: { value: string; useUntil: number };
  pending?: Promise<string>;
  /** The access token the destination refused (401): never handed out again. */
  refused?: string;
}

const cache = new Map<string, Entry>();
/** Refused refresh-token chains (system + lineage), for when there is no store to remember it in. */
const revokedChains = new Map<string, string>();

const hash = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 24);

function seedOf(cfg: OAuth2Config): string {
  return cfg.type === 'oauth2_authorization_code' ? cfg.refresh_token : '';
}

/** Everything that changes which access token we get; secrets hashed so a rotated one takes effect at once. */
function issuedFor(cfg: OAuth2Config): string {
  const audience = cfg.type === 'oauth2_client_credentials' ? (cfg.audience ?? '') : '';
  return hash(cfg.type, cfg.token_url, cfg.client_id, cfg.client_secret, cfg.scope ?? '', audience, cfg.client_auth ?? 'basic', seedOf(cfg));
}

function lineageOf(cfg: OAuth2Config): string {
  return hash(cfg.type, cfg.token_url, cfg.client_id, seedOf(cfg));
}

function keyOf(system: string, cfg: OAuth2Config): string {
  return `${system}\n${issuedFor(cfg)}`;
}

/** A valid access token: the cached one, the one being fetched, or a new fetch. */
export async function oauth2Token(system: string, cfg: OAuth2Config, options: TokenOptions): Promise<string> {
  const key = keyOf(system, cfg);
  let entry = cache.get(key);
  if (!entry) cache.set(key, (entry = {}));
  if (entry.token && entry.token.useUntil > Date.now()) return entry.token.value;
  let pending = entry.pending;
  if (!pending) {
    const e = entry;
    // Not tied to one caller's signal: another caller may still want the
    // token after the first gives up. Bounded by its own timeout instead.
    pending = e.pending = obtain(system, cfg, e, options).finally(() => {
      delete e.pending;
    });
  }
  return untilAborted(pending, options.signal);
}

/** Forgets `token` (the destination refused it): the next call gets a new one, even if the store still has it. */
export function dropOAuth2Token(system: string, cfg: OAuth2Config, token: string): void {
  const entry = cache.get(keyOf(system, cfg));
  if (!entry) return;
  entry.refused = token;
  if (entry.token?.value === token) delete entry.token;
}

export function clearOAuth2Tokens(): void {
  cache.clear();
  revokedChains.clear();
}

async function loadState(options: TokenOptions, lineage: string): Promise<TokenState | undefined> {
  const text = await options.credentials?.get(STATE_NAME);
  if (!text) return undefined;
  try {
    const state = JSON.parse(text) as TokenState;
    // A new seed refresh token (or client) starts a new chain: the old state, revoked or not, no longer applies.
    return state.v === 1 && state.lineage === lineage ? state : undefined;
  } catch {
    return undefined;
  }
}

async function obtain(system: string, cfg: OAuth2Config, entry: Entry, options: TokenOptions): Promise<string> {
  const lineage = lineageOf(cfg);
  const forCfg = issuedFor(cfg);
  const known = revokedChains.get(`${system}\n${lineage}`);
  if (known !== undefined) throw revokedError(system, known);
  const state = await loadState(options, lineage);
  if (state?.revoked) throw revokedError(system, state.revoked.reason);
  if (state?.accessToken && state.issuedFor === forCfg && (state.useUntil ?? 0) > Date.now() && state.accessToken !== entry.refused) {
    entry.token = { value: state.accessToken, useUntil: state.useUntil ?? 0 };
    return state.accessToken;
  }
  const timeoutMs = options.timeoutMs ?? TOKEN_TIMEOUT_MS;
  let issued: IssuedToken;
  let refreshToken: string | undefined;
  if (cfg.type === 'oauth2_client_credentials') {
    const grant: Record<string, string> = { grant_type: 'client_credentials' };
    if (cfg.scope) grant['scope'] = cfg.scope;
    if (cfg.audience) grant['audience'] = cfg.audience;
    issued = await requestToken(cfg, grant, { timeoutMs, egress: options.egress });
  } else {
    refreshToken = state?.refreshToken ?? cfg.refresh_token;
    const refresh = (token: string) => {
      const grant: Record<string, string> = { grant_type: 'refresh_token', refresh_token: token };
      if (cfg.scope) grant['scope'] = cfg.scope;
      return requestToken(cfg, grant, { timeoutMs, egress: options.egress });
    };
    try {
      issued = await refresh(refreshToken);
    } catch (e) {
      if (!(e instanceof InvalidGrantError)) throw e;
      // Another hub process may have rotated the refresh token a moment ago: try the newest one once.
      const latest = await loadState(options, lineage);
      if (latest?.revoked) throw revokedError(system, latest.revoked.reason);
      const newer = latest?.refreshToken;
      if (newer !== undefined && newer !== refreshToken) {
        refreshToken = newer;
        try {
          issued = await refresh(newer);
        } catch (e2) {
          if (!(e2 instanceof InvalidGrantError)) throw e2;
          throw await markRevoked(system, lineage, e2.message, options);
        }
      } else {
        throw await markRevoked(system, lineage, e.message, options);
      }
    }
  }
  const next: TokenState = {
    v: 1,
    lineage,
    issuedFor: forCfg,
    accessToken: issued.accessToken,
    useUntil: issued.useUntil,
    ...(cfg.type === 'oauth2_authorization_code' && refreshToken !== undefined ? { refreshToken: issued.refreshToken ?? refreshToken } : {}),
  };
  // Saved before use: a rotated refresh token must survive a crash right after this call.
  await options.credentials?.set(STATE_NAME, JSON.stringify(next));
  entry.token = { value: issued.accessToken, useUntil: issued.useUntil };
  return issued.accessToken;
}

function revokedError(system: string, reason: string): CredentialsRevokedError {
  return new CredentialsRevokedError(
    `${system}: ${reason}. Deliveries to ${system} wait: set a new refresh token (the secret behind systems.${system}.config.auth.refresh_token, with causeway secrets set) and they resume`,
  );
}

/** Records the revocation (so no process calls the token endpoint with it again) and raises one alert. */
async function markRevoked(system: string, lineage: string, reason: string, options: TokenOptions): Promise<CredentialsRevokedError> {
  const state: TokenState = { v: 1, lineage, revoked: { at: Date.now(), reason } };
  revokedChains.set(`${system}\n${lineage}`, reason);
  await options.credentials?.set(STATE_NAME, JSON.stringify(state));
  options.log?.error({ system }, 'the OAuth2 refresh token was refused (invalid_grant); deliveries wait for a new one');
  await options.alert?.(
    `the OAuth2 refresh token of ${system} was refused by its token endpoint (invalid_grant: revoked or expired). Deliveries to ${system} wait; set a new refresh token (the secret behind systems.${system}.config.auth.refresh_token: causeway secrets set NAME --system ${system}) and they resume.`,
  );
  return revokedError(system, reason);
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
