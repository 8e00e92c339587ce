import { request } from 'undici';
import { CliError, EXIT } from './args.js';

export const DEFAULT_HUB_URL = 'http://127.0.0.1:8080';

/** The hub answered with an error: `{ error: { code, message, details } }`. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ReadonlyArray<{ path?: string; message: string }> = [],
  ) {
    super(exitCodeFor(status), message);
    this.name = 'ApiError';
  }
}

/**
 * 400: what the user typed was refused (a bad time, an unknown filter);
 * 401/403: no usable access to the hub; 404/409: nothing matched / not
 * possible now; anything else is a problem on the hub's side.
 */
function exitCodeFor(status: number): number {
  if (status === 400) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.unreachable;
  return EXIT.problem;
}

export interface HubClientOptions {
  url?: string | undefined;
  token?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Per request (default 30 s). */
  timeoutMs?: number;
}

type Query = Record<string, string | number | undefined>;

/** The management API of a running hub, as the CLI uses it. */
export class HubClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(o: HubClientOptions = {}) {
    const env = o.env ?? process.env;
    const url = o.url ?? (env['CAUSEWAY_URL'] || DEFAULT_HUB_URL);
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw new CliError(EXIT.usage, `--url must be an http:// or https:// URL, got ${JSON.stringify(url)}`);
    }
    this.url = url.replace(/\/+$/, '');
    this.token = o.token ?? (env['CAUSEWAY_TOKEN'] || undefined);
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.call<T>('GET', path, query, undefined);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, {}, body);
  }

  private async call<T>(method: 'GET' | 'POST', path: string, query: Query, body: unknown): Promise<T> {
    const target = new URL(`${this.url}${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) target.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'causeway-cli' };
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const res = await request(target, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const why = typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
      throw new CliError(EXIT.unreachable, `cannot reach the hub at ${this.url} (${why}). Is it running? Set --url or CAUSEWAY_URL.`);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CliError(EXIT.unreachable, `${this.url} answered ${method} ${path} with HTTP ${status} but not JSON: is it a Causeway hub?`);
    }
    if (status >= 200 && status < 300) return json as T;
    const err = (json as { error?: { code?: string; message?: string; details?: Array<{ path?: string; message: string }> } } | undefined)?.error;
    if (status === 401 && !this.token) throw new ApiError(status, err?.code ?? 'unauthorized', 'the hub needs a token: set --token or CAUSEWAY_TOKEN');
    if (status === 401) throw new ApiError(status, err?.code ?? 'unauthorized', `the hub refused the token: ${err?.message ?? 'unauthorized'}`);
    const details = err?.details ?? [];
    const more = details.length ? `\n${details.map((d) => `  ${d.path ?? ''} ${d.message}`.trimEnd()).join('\n')}` : '';
    throw new ApiError(status, err?.code ?? 'unknown', `${err?.message ?? `HTTP ${status} from ${method} ${path}`}${more}`, details);
  }
}
