import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  at: number;
}

/** What the receiver answers to one request; return undefined for a plain 200 `{ ok: true }`. */
export type Responder = (req: Received, n: number) => { status: number; headers?: Record<string, string>; body?: unknown; delayMs?: number; destroy?: boolean } | undefined;

export interface Receiver {
  url: string;
  received: Received[];
  /** Replace how it answers (e.g. start failing, then recover). */
  respond(r: Responder): void;
  /** Requests arrived and not yet answered (or destroyed), now and at the most. */
  readonly open: number;
  readonly maxOpen: number;
  /** Resolves once `n` requests have arrived (or rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for a destination system: it
 * records every request and answers as the test scripts it.
 */
export async function startReceiver(responder?: Responder): Promise<Receiver> {
  const received: Received[] = [];
  let respond: Responder = responder ?? (() => undefined);
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let open = 0;
  let maxOpen = 0;
  const server: Server = createServer((req, res) => {
    // Counted from the moment the headers are in until the answer is handed to the socket.
    open++;
    maxOpen = Math.max(maxOpen, open);
    let answered = false;
    const settle = () => {
      if (answered) return;
      answered = true;
      open--;
    };
    // A client that went away (aborted, killed) before the answer no longer holds the request open.
    res.on('close', settle);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // keep the text
      }
      const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, at: Date.now() };
      received.push(r);
      for (const w of [...waiters]) {
        if (received.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      const a = respond(r, received.length) ?? { status: 200, body: { ok: true } };
      const send = () => {
        settle();
        if (a.destroy) {
          req.socket.destroy();
          return;
        }
        res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
        res.end(a.body === undefined ? '' : JSON.stringify(a.body));
      };
      if (a.delayMs) setTimeout(send, a.delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get open() {
      return open;
    },
    get maxOpen() {
      return maxOpen;
    },
    respond: (r) => {
      respond = r;
    },
    waitFor: (n, timeoutMs = 15_000) =>
      new Promise<Received[]>((resolve, reject) => {
        if (received.length >= n) return resolve(received);
        const t = setTimeout(() => reject(new Error(`receiver got ${received.length} of ${n} requests in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(received);
          },
        });
      }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
