import { errorMessage } from '../errors.js';
import { RESERVED_INPUT_KEYS, type RequestEnvelope } from '../connectors/http/manifest.js';
import { fillPath, joinUrl, mergeHeaders, valueAt } from '../connectors/http/template.js';

/**
 * The request an `http` or `webhook` action would send for an input, worked
 * out without sending it (for `causeway test` and `causeway plan`). It
 * follows the connectors' own rules (connectors/http/index.ts planRequest,
 * connectors/webhook send) with their exported helpers; the better home is
 * a `preview` function in the connector contract, so any connector can
 * describe its call — until then, keep the two in step.
 *
 * Headers show what the flow and the input set; the system's configured
 * headers and credentials are left out (they are often secrets), and so are
 * the per-attempt ones (idempotency-key, traceparent, webhook signature).
 */
export interface RequestPreview {
  method: string;
  url: string;
  /** The URL's path and query, e.g. `/v2/orders/1001?expand=lines`. */
  path: string;
  headers: Record<string, string>;
  /** The JSON body; absent for a GET or an input without one. */
  body?: unknown;
}

export type PreviewResult = { ok: true; request: RequestPreview } | { ok: false; error: string } | undefined;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strings(v: unknown): Record<string, string> | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function httpRequest(config: Record<string, unknown>, options: Record<string, unknown>, input: unknown): RequestPreview {
  const obj = (typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {}) as RequestEnvelope & Record<string, unknown>;
  const reserved: readonly string[] = RESERVED_INPUT_KEYS;
  const envelope = reserved.some((k) => Object.hasOwn(obj, k));
  if (envelope) {
    const extra = Object.keys(obj).filter((k) => !reserved.includes(k));
    if (extra.length > 0) {
      throw new Error(`the request input has envelope keys (${reserved.filter((k) => Object.hasOwn(obj, k)).join(', ')}) and other keys (${extra.join(', ')}): put the body under "body"`);
    }
  }
  const env: RequestEnvelope = envelope ? obj : {};
  const bodyValue: unknown = envelope ? env.body : input;
  const lookup = (p: string): unknown => valueAt(input, p) ?? (envelope ? valueAt(env.body, p) : undefined);
  const method = env.method ?? str(options['method']) ?? 'POST';
  const url = joinUrl(str(config['base_url']) ?? '', fillPath(env.path ?? str(options['path']) ?? '', lookup));
  for (const [k, v] of Object.entries(env.query ?? {})) url.searchParams.append(k, String(v));
  const hasBody = method !== 'GET' && bodyValue !== undefined;
  const base: Record<string, string> = { accept: 'application/json' };
  if (hasBody) base['content-type'] = 'application/json';
  const headers = mergeHeaders(base, strings(options['headers']), env.headers);
  const preview: RequestPreview = { method, url: url.href, path: `${url.pathname}${url.search}`, headers };
  if (hasBody) preview.body = bodyValue;
  return preview;
}

function webhookRequest(system: string, config: Record<string, unknown>, options: Record<string, unknown>, input: unknown): RequestPreview {
  const base = str(config['url']);
  if (!base) throw new Error(`system ${system} has no config.url: it can receive webhooks but not be sent one`);
  const url = joinUrl(base, fillPath(str(options['path']) ?? '', (p) => valueAt(input, p)));
  return { method: 'POST', url: url.href, path: `${url.pathname}${url.search}`, headers: { 'content-type': 'application/json' }, body: input ?? null };
}

/** The request for connectors that send one; undefined for other kinds. */
export function previewRequest(
  kind: string,
  action: string,
  call: { system: string; config: Record<string, unknown>; options: Record<string, unknown>; input: unknown },
): PreviewResult {
  try {
    if (kind === 'http' && action === 'request') return { ok: true, request: httpRequest(call.config, call.options, call.input) };
    if (kind === 'webhook' && action === 'send') return { ok: true, request: webhookRequest(call.system, call.config, call.options, call.input) };
  } catch (e) {
    return { ok: false, error: errorMessage(e) };
  }
  return undefined;
}
