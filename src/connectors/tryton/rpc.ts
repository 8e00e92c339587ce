import { createHash } from 'node:crypto';
import type { Egress } from '../../net/egress.js';
import type { Logger } from 'pino';
import { sendHttp, type HttpResponse } from '../http-call.js';
import { PermanentError, RetryableError, type CallSummary } from '../types.js';
import { faultError, readFault } from './errors.js';
import type { TrytonConfig } from './manifest.js';

/**
 * A JSON-RPC client for one Tryton database.
 *
 * Login hashes the password on the server (0.25–0.75 s) and failed logins
 * are rate-limited, so one session per (server, database, login, password)
 * is shared by every call of every delivery and poll, and renewed only when
 * the server answers 401 (expired after `[session] timeout` of inactivity,
 * or ended by a logout). The user's context (company, language…) is fetched
 * once with the session and appended to every `model.*` call, which Tryton
 * requires as the last positional parameter.
 */

export type Context = Record<string, unknown>;

interface Session {
  header: string;
  context: Context;
}

const sessions = new Map<string, Promise<Session>>();

/** Forgets every cached session (the hub stopping, tests). */
export function clearSessions(): void {
  sessions.clear();
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class TrytonClient {
  /** What the last call was, for the attempt log. */
  lastSummary: CallSummary;
  private readonly key: string;
  private readonly endpoint: URL;

  constructor(
    private readonly config: TrytonConfig,
    private readonly signal: AbortSignal,
    /** The project's egress policy: the Tryton URL is reached only if it allows it. */
    private readonly egress: Egress,
    private readonly log?: Logger,
  ) {
    this.endpoint = new URL(`${config.url.replace(/\/+$/, '')}/${encodeURIComponent(config.database)}/`);
    this.key = [config.url, config.database, config.login, createHash('sha256').update(config.password).digest('hex')].join('\n');
    this.lastSummary = { request: `POST ${this.endpoint.href}` };
  }

  /** Identifies the server, database and user, for caches of its reference data. */
  get cacheKey(): string {
    return this.key;
  }

  /** The user's context as the server gave it (company, employee, language…). */
  async context(): Promise<Context> {
    return (await this.session()).context;
  }

  /** `model.<model>.<method>(...args, context)`; `extra` is merged over the session context. */
  async model<T = unknown>(model: string, method: string, args: unknown[], extra: Context = {}): Promise<T> {
    return this.withSession<T>(`model.${model}.${method}`, (s) => [...args, { ...s.context, ...extra }]);
  }

  /** Any other method (wizards), with the context added by `params`. */
  async withSession<T>(method: string, params: (s: Session) => unknown[]): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const session = this.session();
      const s = await session;
      const res = await this.post(method, params(s), s.header);
      if (res.status === 401 && attempt === 1) {
        // Expired or logged out: drop this session (unless another call already replaced it) and log in again, once.
        if (sessions.get(this.key) === session) sessions.delete(this.key);
        this.log?.info({ database: this.config.database }, 'tryton session expired; logging in again');
        continue;
      }
      return this.result<T>(method, res);
    }
  }

  private session(): Promise<Session> {
    let s = sessions.get(this.key);
    if (!s) {
      s = this.login();
      sessions.set(this.key, s);
      // A failed login is not cached: the next call tries again (after the delivery's backoff).
      s.catch(() => {
        if (sessions.get(this.key) === s) sessions.delete(this.key);
      });
    }
    return s;
  }

  private async login(): Promise<Session> {
    const { login, password } = this.config;
    const res = await this.post('common.db.login', [login, { password }, 'en']);
    if (res.status === 401 || res.status === 403) {
      throw new PermanentError(`Tryton refused the login of "${login}" on database "${this.config.database}" (HTTP ${res.status})`, { summary: res.summary });
    }
    const result = this.result<unknown>('common.db.login', res);
    if (!Array.isArray(result) || typeof result[0] !== 'number' || typeof result[1] !== 'string') {
      throw new PermanentError(`Tryton common.db.login answered ${JSON.stringify(result).slice(0, 200)}`, { summary: res.summary });
    }
    const header = `Session ${Buffer.from(`${login}:${result[0]}:${result[1]}`).toString('base64')}`;
    // context_only=true: just the keys every call needs (company, employee, language…).
    const prefs = await this.post('model.res.user.get_preferences', [true, {}], header);
    const context = this.result<Context>('model.res.user.get_preferences', prefs);
    return { header, context: context ?? {} };
  }

  private async post(method: string, params: unknown[], authorization?: string): Promise<HttpResponse> {
    const res = await sendHttp({
      method: 'POST',
      url: this.endpoint,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ id: 1, method, params }),
      signal: this.signal,
      egress: this.egress,
      timeoutMs: this.config.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    }).catch((e: unknown) => {
      // No answer at all (refused, reset, timed out): the server may be restarting.
      if (e instanceof RetryableError || e instanceof PermanentError) {
        throw Object.assign(e, { message: `Tryton ${method}: ${e.message}` });
      }
      throw e;
    });
    res.summary = { ...res.summary, request: `${res.summary.request} ${method}` };
    this.lastSummary = res.summary;
    return res;
  }

  private result<T>(method: string, res: HttpResponse): T {
    const { status, summary } = res;
    if (status === 429 || status >= 500) {
      const retryAfter = Number(res.headers['retry-after']);
      throw new RetryableError(`Tryton ${method}: HTTP ${status}`, Number.isFinite(retryAfter) && retryAfter > 0 ? { summary, retryAfterMs: retryAfter * 1000 } : { summary });
    }
    if (status === 401) throw new PermanentError(`Tryton ${method}: the session was refused again after a new login (HTTP 401)`, { summary });
    if (status === 403) throw new PermanentError(`Tryton ${method}: not allowed, or no such method (HTTP 403)`, { summary });
    if (status === 404) throw new PermanentError(`Tryton ${method}: no database "${this.config.database}" (HTTP 404)`, { summary });
    if (status !== 200) throw new PermanentError(`Tryton ${method}: HTTP ${status}`, { summary });
    if (res.truncated) throw new PermanentError(`Tryton ${method}: the answer is over 1 MiB; lower the source's batch`, { summary });
    const body = typeof res.body === 'string' ? safeParse(res.body) : res.body;
    if (typeof body !== 'object' || body === null) throw new RetryableError(`Tryton ${method}: the answer is not JSON-RPC`, { summary });
    if ('error' in body && (body as { error: unknown }).error != null) throw faultError(method, readFault((body as { error: unknown }).error), summary);
    return (body as { result: T }).result;
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
