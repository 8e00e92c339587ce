import { createHash } from 'node:crypto';
import secureJsonParse from 'secure-json-parse';
import { Agent, request, type Dispatcher } from 'undici';
import { isJsonContentType, jsonDepthExceeds } from '../intake/body.js';
import { egressRefusal, type Egress } from '../net/egress.js';
import { egressConnector } from '../net/egress-undici.js';
import { randomHex } from '../random-pool.js';
import { PermanentError, RetryableError, type ActionError, type CallSummary } from './types.js';

/**
 * One outbound HTTP request, shared by the `http` and `webhook` connectors:
 * pooled keep-alive connections, the flow's timeout, a capped body read, and
 * the mapping from an answer (or its absence) to the retry policy.
 */

/**
 * Response bodies are read up to 1 MiB. A bigger one is *not* an error: the
 * destination already accepted the call, so failing it would dead-letter (or,
 * if retryable, repeat) work that is done. The output body is `null` and
 * `truncated` is set; the summary still shows the first 2 KiB.
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
const EXCERPT_BYTES = 2048;
/** Deeper JSON than this is handed on as text, so no mapping recurses into it. */
const MAX_RESPONSE_JSON_DEPTH = 256;

// One pool per egress policy (in practice: one) for every outbound call. 64
// connections per origin covers the delivery engine's concurrency;
// pipelining 1 because many APIs mishandle pipelined HTTP/1.1. Every socket
// opens through the policy (src/net/egress-undici.ts). Created lazily so a
// hub stopped and started again in the same process (tests, embedding) gets
// a fresh pool after closeHttpAgent().
const agents = new Map<string, Agent>();
export function egressDispatcher(egress: Egress): Agent {
  let agent = agents.get(egress.key);
  if (!agent) {
    agent = new Agent({ connections: 64, pipelining: 1, connect: egressConnector(egress) });
    agents.set(egress.key, agent);
  }
  return agent;
}

/** Closes the shared pools (waits for requests in flight). Safe to call twice. */
export async function closeHttpAgent(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

export interface HttpRequest {
  method: Dispatcher.HttpMethod;
  url: URL;
  /** Lowercase names. */
  headers: Record<string, string>;
  body?: string;
  /** The flow's signal; aborting it abandons the call. */
  signal: AbortSignal;
  /** A per-system limit on top of the flow's signal. */
  timeoutMs?: number;
  /** Where the request may go (the project's egress policy). */
  egress: Egress;
}

export interface HttpResponse {
  status: number;
  /** Lowercase names, repeated headers joined with `, `, never `set-cookie`. */
  headers: Record<string, string>;
  /** Parsed JSON for a JSON content type, else text; `null` when empty or truncated. */
  body: unknown;
  truncated: boolean;
  summary: CallSummary;
}

/**
 * Sends one request and reads the answer, whatever its status. Throws only
 * when there is no answer: RetryableError for network errors, aborts and
 * timeouts; PermanentError for a request undici refuses to send (e.g. a
 * header value with a newline), which no retry can fix. Redirects are never
 * followed (undici's `request` does not, and we add no redirect interceptor).
 */
export async function sendHttp(req: HttpRequest): Promise<HttpResponse> {
  const target = describeRequest(req.method, req.url);
  const signal = req.timeoutMs === undefined ? req.signal : AbortSignal.any([req.signal, AbortSignal.timeout(req.timeoutMs)]);
  try {
    const res = await request(req.url, {
      dispatcher: egressDispatcher(req.egress),
      method: req.method,
      headers: req.headers,
      body: req.body ?? null,
      signal,
    });
    const { bytes, truncated } = await readCapped(res.body, MAX_RESPONSE_BYTES);
    const headers = responseHeaders(res.headers);
    const summary: CallSummary = { request: target, status: res.statusCode };
    if (bytes.length > 0) summary.response = bytes.subarray(0, EXCERPT_BYTES).toString('utf8');
    const body = truncated ? null : decodeBody(bytes, headers['content-type']);
    return { status: res.statusCode, headers, body, truncated, summary };
  } catch (e) {
    throw noAnswer(e, target, signal);
  }
}

/** Returns a 2xx answer; throws the error the retry policy needs for any other. */
export function expectOk(res: HttpResponse): HttpResponse {
  const { status, summary } = res;
  if (status >= 200 && status < 300) return res;
  const what = `${summary.request} answered HTTP ${status}`;
  if (status >= 500 || status === 408 || status === 429) {
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after']) : undefined;
    throw new RetryableError(what, retryAfterMs === undefined ? { summary } : { summary, retryAfterMs });
  }
  if (status >= 300 && status < 400) {
    // A redirect on a write is ambiguous (did the first hop act?); the user should point base_url at the final address.
    const location = res.headers['location'];
    throw new PermanentError(`${what}, a redirect${location ? ` to ${stripQuery(location)}` : ''}; redirects are not followed`, { summary });
  }
  throw new PermanentError(what, { summary });
}

/** `sendHttp` then `expectOk`. */
export async function httpCall(req: HttpRequest): Promise<HttpResponse> {
  return expectOk(await sendHttp(req));
}

/** `Retry-After` as delay-seconds or an HTTP date → milliseconds from now (never negative). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  // Date.parse accepts many odd strings ("1.5" is a date in 2001); HTTP dates start with a day name.
  if (!/^[A-Za-z]{3}/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * `METHOD url` for logs and the attempt log: no user:password, no fragment,
 * and query values replaced by `***` (they are often API keys; the names are
 * enough to tell calls apart).
 */
export function describeRequest(method: string, url: URL): string {
  // Nothing to strip (the usual case): skip parsing the URL again, once per call.
  // (A serialized URL has '?' and '#' only as the query's and fragment's delimiters, even when those are empty.)
  const href = url.href;
  if (url.username === '' && url.password === '' && !href.includes('?') && !href.includes('#')) return `${method} ${href}`;
  return `${method} ${stripQuery(href)}`;
}

function stripQuery(href: string): string {
  let u: URL;
  try {
    u = new URL(href);
  } catch {
    return href.split('?')[0] ?? '';
  }
  u.username = '';
  u.password = '';
  u.hash = '';
  const names = [...new Set(u.searchParams.keys())];
  u.search = '';
  return names.length === 0 ? u.href : `${u.href}?${names.map((n) => `${encodeURIComponent(n)}=***`).join('&')}`;
}

/**
 * A W3C `traceparent` for the hub's trace id (32 hex). Any other id is hashed
 * into one so the header is always well formed; the parent id is fresh per
 * call because each attempt is its own span.
 */
export function traceparent(traceId: string): string {
  const t = traceId.toLowerCase();
  const id = /^[\da-f]{32}$/.test(t) && !/^0+$/.test(t) ? t : createHash('sha256').update(traceId).digest('hex').slice(0, 32);
  return `00-${id}-${randomHex(8)}-01`;
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, cap: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > cap) {
      body.destroy(); // drops the connection rather than draining an unbounded body
      return { bytes: Buffer.concat(chunks).subarray(0, cap), truncated: true };
    }
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

function responseHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = name.toLowerCase();
    // Cookies are session state of the destination, not data for a writeback mapping.
    if (value === undefined || key === 'set-cookie') continue;
    out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function decodeBody(bytes: Buffer, contentType: string | undefined): unknown {
  if (bytes.length === 0) return null;
  const text = bytes.toString('utf8');
  if (!isJsonContentType(contentType) || jsonDepthExceeds(bytes, MAX_RESPONSE_JSON_DEPTH)) return text;
  try {
    // The body feeds writeback mappings: keys that could pollute prototypes are dropped.
    return secureJsonParse.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
  } catch {
    // A 2xx with broken JSON still succeeded; hand on the text rather than fail work that is done.
    return text;
  }
}

function noAnswer(e: unknown, target: string, signal: AbortSignal): ActionError {
  const summary: CallSummary = { request: target };
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  const refused = egressRefusal(e);
  if (refused) return new PermanentError(`${target}: ${refused.message}`, { summary, cause: e });
  if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_INVALID_URL') {
    return new PermanentError(`${target}: the request cannot be sent: ${message}`, { summary, cause: e });
  }
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
    return new RetryableError(`${target}: ${timedOut ? 'timed out' : 'aborted'}`, { summary, cause: e });
  }
  return new RetryableError(`${target}: no answer (${typeof code === 'string' ? code : message})`, { summary, cause: e });
}
