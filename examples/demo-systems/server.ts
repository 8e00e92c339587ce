import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The little HTTP server every stand-in runs on: JSON in and out, one log
 * line per request, its credentials checked, and idempotent on
 * Idempotency-Key the way a careful real API is — a repeat of a key that
 * succeeded gets the first answer again and changes nothing.
 */

/** One readable line: which system, and what happened. */
export type Log = (system: string, line: string) => void;

export interface DemoRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  /** Parsed JSON, or undefined for an empty body. */
  body: unknown;
}

export interface DemoReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** What the log line says about it. */
  note?: string;
}

/** A handler gets the request and the pattern's capture groups (decoded). */
export type Handler = (req: DemoRequest, params: string[]) => DemoReply | Promise<DemoReply>;

export interface Route {
  method: string;
  pattern: RegExp;
  handle: Handler;
}

export interface ServeOptions {
  name: string;
  host: string;
  port: number;
  log: Log;
  routes: Route[];
  /** Why the request may not come in (wrong or missing credentials), or undefined when it may. */
  refuse?: (req: DemoRequest) => string | undefined;
}

export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function asString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** `ord_01JD…` is long; the log shows enough of it to tell records apart. */
export function short(id: string): string {
  return id.length > 16 ? `${id.slice(0, 12)}…` : id;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body over 1 MiB'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function serve(options: ServeOptions): Promise<DemoServer> {
  const { name, log } = options;
  // Successful answers by key: a retry or a replay must not do the work twice.
  const answered = new Map<string, DemoReply>();

  async function answer(req: DemoRequest): Promise<DemoReply> {
    const refused = options.refuse?.(req);
    if (refused) return { status: 401, body: { error: refused }, note: `refused: ${refused}` };
    // `causeway validate --check-connections` knocks with HEAD and the system's credentials.
    if (req.method === 'HEAD') return { status: 200, note: 'a reachability check' };
    for (const route of options.routes) {
      if (route.method !== req.method) continue;
      const m = route.pattern.exec(req.path);
      if (!m) continue;
      const key = header(req.headers, 'idempotency-key');
      const cacheKey = key && req.method !== 'GET' ? `${req.method} ${req.path} ${key}` : undefined;
      const earlier = cacheKey ? answered.get(cacheKey) : undefined;
      if (earlier) return { ...earlier, note: `a repeat of an earlier request (same Idempotency-Key): same answer, nothing done twice` };
      const reply = await route.handle(req, m.slice(1).map((p) => decodeURIComponent(p)));
      if (cacheKey && reply.status < 500) answered.set(cacheKey, reply);
      return reply;
    }
    return { status: 404, body: { error: `no route ${req.method} ${req.path}` }, note: 'no such route' };
  }

  async function receive(req: IncomingMessage, method: string, path: string): Promise<DemoReply> {
    try {
      const raw = await readBody(req);
      let body: unknown;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8')) as unknown;
        } catch {
          return { status: 400, body: { error: 'the body is not JSON' }, note: 'not JSON' };
        }
      }
      return await answer({ method, path, headers: req.headers, raw, body });
    } catch (e) {
      return { status: 500, body: { error: String(e) }, note: `failed: ${String(e)}` };
    }
  }

  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    void receive(req, method, path).then((reply) => {
      // GETs are someone looking around (a newcomer with curl); they are not part of the story.
      if (method !== 'GET') log(name, `← ${method} ${path}  ${reply.status}${reply.note ? `  ${reply.note}` : ''}`);
      const text = reply.body === undefined ? '' : JSON.stringify(reply.body, null, method === 'GET' ? 2 : 0);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
