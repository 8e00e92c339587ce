/**
 * End-to-end delivery benchmark: messages in over HTTP → normalized by a
 * JSONata mapping → routed to one or three flows → delivered over HTTP to a
 * receiver, compared with a baseline measured in the same run on the same
 * machine (absolute numbers drift; ratios do not).
 *
 *   node --import tsx bench/e2e.ts
 *
 * Processes: this one drives the load (autocannon) and does the bookkeeping;
 * the hub, the baseline relay and the receiver are each a child process. The
 * receiver (a bare node:http server answering 200) records the path of each
 * request — it carries the message id — and its arrival time; nothing else.
 *
 * Measured, for fan-out 1 and 3:
 * - deliveries/s arriving at the receiver during the steady run;
 * - latency from the 2xx acknowledgement of the message (and from its send
 *   time) to each of its deliveries' arrival, p50/p99;
 * - peak RSS of the hub (VmHWM) and its CPU time per message;
 * - that every acknowledged message reached the receiver fan-out times once
 *   the backlog drained (bounded wait) — UNDELIVERED otherwise (not arrived within the wait: lost, or
 *   only slower than BENCH_DRAIN_WAIT; the hub's deliveries table tells which).
 * And the time to drain 10k and 100k queued deliveries: the messages are
 * committed to the inbox and normalized by a hub started with
 * CAUSEWAY_DELIVERY_PAUSED=1 (the deliveries wait, pending), which is then
 * stopped and restarted without it; the drain runs from the restart until
 * every message has arrived once (repeats are counted apart).
 *
 * Baseline: a bare relay — a node:http server that parses each inbound body,
 * forwards it to the receiver with undici (keep-alive) and answers 202 once
 * forwarded, storing nothing. Its ack comes after the delivery, so its
 * ack→receipt latency is negative; compare send→receipt.
 *
 * Options (env):
 *   BENCH_SECONDS        measured run per scenario (default 10)
 *   BENCH_WARMUP         warm-up seconds before it (default 2)
 *   BENCH_CONNECTIONS    autocannon connections (default 64)
 *   BENCH_RATE           offered messages/s in the live runs, sent at a steady pace (default: as fast as
 *                        acknowledged with autocannon, like bench/run.ts; the hub then acks faster than it
 *                        delivers and latency grows with the backlog — set a rate below its delivery rate
 *                        to see the pipeline's latency without one)
 *   BENCH_DRAIN          queued deliveries to drain, comma-separated (default 10000,100000; 0 skips)
 *   BENCH_DRAIN_VIA      db (default): the backlog's messages are committed to the inbox through the
 *                        store; http: posted like the live runs (slower to set up)
 *   BENCH_DRAIN_WAIT     seconds to wait for a backlog to drain before calling it UNDELIVERED (default 180)
 *   BENCH_QUEUE_WAIT     seconds to wait for a drain's backlog to be normalized into deliveries (default 600)
 *   BENCH_FANOUT         fan-outs to run, comma-separated (default 1,3)
 *   BENCH_ROUNDS         live runs per fan-out, each a relay run then a hub run (default 3); the ratio
 *                        printed is the median of the rounds' ratios (one run pair can fall on a noisy minute)
 *   BENCH_CONCURRENCY    delivery.concurrency of each destination (default: the hub's default)
 *   BENCH_RELAY=0        skip the baseline (profiling the hub alone)
 *   BENCH_PG=1           also run on PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/test)
 *   BENCH_KEEP=1         keep the temp dir (databases, projects) for a look afterwards
 *   BENCH_HUB_ARGS       extra node flags for the hub process (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NewInboxMessage } from '../src/store/inbox.js';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
const now = (): number => performance.timeOrigin + performance.now();

const SELF = fileURLToPath(import.meta.url);
const mode = process.argv[2];

// ---------------------------------------------------------------------------
// Child roles: the receiver and the bare relay.
// ---------------------------------------------------------------------------

function announce(port: number): void {
  process.stdout.write(`${JSON.stringify({ msg: 'hub listening', address: `http://127.0.0.1:${port}` })}\n`);
}

/** Answers 200 to everything; records path and arrival. /__stats, /__dump and /__reset are its control. */
function receiver(): void {
  let paths: string[] = [];
  let times: number[] = [];
  const OK = '{"ok":true}';
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/__')) {
      if (url === '/__reset') {
        paths = [];
        times = [];
        res.end('ok');
      } else if (url === '/__stats') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ n: paths.length, first: times[0] ?? null, last: times[times.length - 1] ?? null }));
      } else if (url === '/__dump') {
        // One line per arrival: "<path> <time>".
        const lines: string[] = new Array<string>(paths.length);
        for (let i = 0; i < paths.length; i++) lines[i] = `${paths[i]} ${times[i]!.toFixed(3)}`;
        res.end(lines.join('\n'));
      } else {
        res.statusCode = 404;
        res.end();
      }
      return;
    }
    req.resume();
    req.on('end', () => {
      paths.push(url);
      times.push(now());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': OK.length });
      res.end(OK);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => announce((server.address() as { port: number }).port));
  process.on('SIGTERM', () => process.exit(0));
}

/** Parses, forwards to the receiver (fan-out paths in parallel), then answers 202. Stores nothing. */
async function relay(target: string, fanout: number): Promise<void> {
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let id: string;
      try {
        id = String((JSON.parse(body.toString('utf8')) as { id: unknown }).id);
      } catch {
        res.writeHead(400);
        res.end();
        return;
      }
      const sends: Promise<unknown>[] = [];
      for (let k = 0; k < fanout; k++) {
        sends.push(
          request(`${target}/${'abc'[k]}/${encodeURIComponent(id)}`, {
            dispatcher: agent,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          }).then(async (r) => {
            await r.body.dump();
            if (r.statusCode >= 300) throw new Error(`receiver answered ${r.statusCode}`);
          }),
        );
      }
      Promise.all(sends).then(
        () => {
          res.writeHead(202, { 'content-type': 'application/json' });
          res.end('{"status":"accepted"}');
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
    });
  });
  server.listen(0, '127.0.0.1', () => announce((server.address() as { port: number }).port));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

// ---------------------------------------------------------------------------
// The orchestrator.
// ---------------------------------------------------------------------------

const env = (name: string, dflt: string): string => process.env[name] || dflt;
const SECONDS = Number(env('BENCH_SECONDS', '10'));
const WARMUP = Number(env('BENCH_WARMUP', '2'));
const CONNECTIONS = Number(env('BENCH_CONNECTIONS', '64'));
const DRAINS = env('BENCH_DRAIN', '10000,100000').split(',').map(Number).filter((n) => n > 0);
const DRAIN_WAIT_MS = Number(env('BENCH_DRAIN_WAIT', '180')) * 1000;
const QUEUE_WAIT_MS = Number(env('BENCH_QUEUE_WAIT', '600')) * 1000;
const FANOUTS = env('BENCH_FANOUT', '1,3').split(',').map(Number).filter((n) => n === 1 || n === 3);
const ROUNDS = Math.max(1, Number(env('BENCH_ROUNDS', '3')));
const CONCURRENCY = process.env['BENCH_CONCURRENCY'] ? Number(process.env['BENCH_CONCURRENCY']) : undefined;
const PG = process.env['BENCH_PG'] === '1';
const RELAY = process.env['BENCH_RELAY'] !== '0';
const RATE = Number(process.env['BENCH_RATE'] ?? 0);
const DRAIN_VIA_HTTP = process.env['BENCH_DRAIN_VIA'] === 'http';
const PG_URL = env('BENCH_PG_URL', 'postgres://postgres@127.0.0.1:5432/test');
const HUB_NODE_ARGS = (process.env['BENCH_HUB_ARGS'] ?? '').split(' ').filter(Boolean);
const KEY = 'bench-key-0123456789abcdef0123';
const MAIN = join(SELF, '..', '..', 'src', 'cli', 'main.ts');

/** The shop's order; `id` is unique per message (event id, external id and the receiver path). */
function orderBody(id: string, sentAt: number): string {
  return JSON.stringify({
    id,
    number: `R-${id}`,
    currency: 'EUR',
    customer: { id: 'C-1', email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace' },
    lines: [
      { sku: 'MUG-1', name: 'Mug', quantity: 2, unit_price: 1250 },
      { sku: 'TEE-2', name: 'T-shirt', quantity: 1, unit_price: 2500 },
    ],
    shipping_address: { line1: '12 Analytical Row', city: 'London', postal_code: 'N1 1AA', country: 'GB' },
    placed_at: '2026-11-24T10:00:00Z',
    sent_at: sentAt,
  });
}

const INBOUND_MAPPING = `{
  "entity": "order",
  "external_id": id,
  "data": {
    "number": number,
    "status": "confirmed",
    "currency": currency,
    "email": customer.email,
    "lines": [lines.{ "sku": sku, "name": name, "quantity": quantity, "unit_price": unit_price, "total": quantity * unit_price }],
    "total": $sum(lines.(quantity * unit_price)),
    "shipping_address": shipping_address,
    "placed_at": placed_at,
    "attributes": { "bench_id": id, "sent_at": sent_at }
  }
}`;

const OUTBOUND_MAPPING = `{
  "msg": attributes.bench_id,
  "sent_at": attributes.sent_at,
  "order_number": number,
  "customer_email": email,
  "amount": total / 100,
  "currency": currency,
  "items": [lines.{ "sku": sku, "qty": quantity, "price": unit_price / 100 }],
  "ship_to": shipping_address.(line1 & ", " & city & " " & postal_code & ", " & country),
  "record": $id,
  "version": $version
}`;

function projectYaml(receiverUrl: string, fanout: number): string {
  const delivery = CONCURRENCY ? `\n    delivery: { concurrency: ${CONCURRENCY} }` : '';
  let systems = '';
  let flows = '';
  for (let k = 0; k < fanout; k++) {
    const name = `erp${k + 1}`;
    systems += `
  ${name}:
    kind: http
    personal_data: allowed
    config: { base_url: "${receiverUrl}/${'abc'[k]}" }${delivery}`;
    flows += `
  order-to-${name}:
    when: { entity: order }
    do: { system: ${name}, action: request, with: { method: POST, path: "/{msg}" } }
    map: mappings/erp.jsonata`;
  }
  return `version: 1
name: e2e-bench
# The receivers run on loopback, which egress control refuses unless listed.
egress: { allow: ["127.0.0.1"] }
systems:
  shop:
    kind: webhook
    auth: { api_key: ${KEY} }
    # The bench measures the hub's ceiling, not the per-key limit (default 1000/s).
    intake: { rate_limit: { per_second: 1000000 } }
    owns: [order]
    topics:
      orders: { mapping: mappings/order.jsonata, event_id: id }${systems}
flows:${flows}
`;
}

// Every child and temp dir is cleaned up on the way out, also on error or Ctrl-C.
const children = new Set<ChildProcess>();
/** The temp dir of this run (orchestrator only; the child roles create nothing). */
let work = '';
const pgSchemas: string[] = [];
let cleaned = false;
function cleanupSync(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  if (cleaned || !work) return;
  cleaned = true;
  if (process.env['BENCH_KEEP'] === '1') console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

interface Proc {
  child: ChildProcess;
  url: string;
  /** When its "listening" line arrived. */
  listeningAt: number;
}

function startProc(args: string[], extraEnv: Record<string, string>, nodeArgs: string[] = []): Promise<Proc> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${args[0]} did not start in 30 s:\n${tail.join('\n')}`)), 30_000);
    let up = false;
    const onLine = (line: string) => {
      if (!up) {
        tail.push(line);
        if (tail.length > 50) tail.shift();
      }
      if (line.includes('"level":50') || line.includes('"level":40')) {
        // Errors and warnings from the hub are worth seeing (failed deliveries, lost leases).
        if (!line.includes('circuit')) process.stderr.write(`  [child] ${line.slice(0, 300)}\n`);
      }
      if (up || !line.includes('hub listening')) return;
      try {
        const e = JSON.parse(line) as { msg?: string; address?: string };
        if (e.msg === 'hub listening' && e.address) {
          up = true;
          clearTimeout(t);
          resolve({ child, url: e.address, listeningAt: now() });
        }
      } catch {
        /* not a log line */
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.on('exit', (c) => {
      clearTimeout(t);
      if (!up) reject(new Error(`${args[0]} exited (${String(c)}) before listening:\n${tail.join('\n')}`));
    });
  });
}

async function stopProc(p: Proc): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((r) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', () => {
      clearTimeout(t);
      r();
    });
    child.kill('SIGTERM');
  });
}

/** Peak resident set of a live process, in MiB. */
function peakRssMiB(pid: number | undefined): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a live process has used, in ms. */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return NaN;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stats {
  n: number;
  first: number | null;
  last: number | null;
}
async function rstats(rcv: Proc): Promise<Stats> {
  return (await (await fetch(`${rcv.url}/__stats`)).json()) as Stats;
}
async function rreset(rcv: Proc): Promise<void> {
  await (await fetch(`${rcv.url}/__reset`)).text();
}
/** Arrivals: message id → arrival times (one per delivery). */
async function rdump(rcv: Proc): Promise<Map<string, number[]>> {
  const text = await (await fetch(`${rcv.url}/__dump`)).text();
  const out = new Map<string, number[]>();
  if (!text) return out;
  for (const line of text.split('\n')) {
    const sp = line.lastIndexOf(' ');
    const path = line.slice(0, sp);
    const id = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
    const t = Number(line.slice(sp + 1));
    const a = out.get(id);
    if (a) a.push(t);
    else out.set(id, [t]);
  }
  return out;
}

/** Waits until the receiver has `n` arrivals or `ms` passed; returns the count. */
async function waitArrivals(rcv: Proc, n: number, ms: number): Promise<Stats> {
  const deadline = now() + ms;
  for (;;) {
    const s = await rstats(rcv);
    if (s.n >= n || now() > deadline) return s;
    await sleep(100);
  }
}

/** How many deliveries of acknowledged messages have not arrived (each message is due `fanout` times). */
function missing(acked: Map<string, number>, arrivals: Map<string, number[]>, fanout: number): number {
  let lost = 0;
  for (const id of acked.keys()) lost += Math.max(0, fanout - (arrivals.get(id)?.length ?? 0));
  return lost;
}

/**
 * Waits until every acknowledged message arrived `fanout` times, or `ms`
 * passed. The count alone is not enough: messages in flight when the load
 * stopped were committed (and are delivered) without their ack being seen.
 */
async function waitDelivered(rcv: Proc, acked: Map<string, number>, fanout: number, ms: number): Promise<{ arrivals: Map<string, number[]>; stats: Stats; lost: number }> {
  const deadline = now() + ms;
  await waitArrivals(rcv, acked.size * fanout, ms);
  for (;;) {
    const stats = await rstats(rcv);
    const arrivals = await rdump(rcv);
    const lost = missing(acked, arrivals, fanout);
    if (lost === 0 || now() > deadline) return { arrivals, stats, lost };
    await sleep(500);
  }
}

interface Load {
  acked: Map<string, number>;
  sent: Map<string, number>;
  ok: number;
  errors: number;
  start: number;
  end: number;
  rps: number;
}

let seq = 0;
/** Posts orders with unique ids; records each id's send time and the time of its 2xx. */
async function load(url: string, tag: string, opts: { seconds?: number; amount?: number; path: string; rate?: number }): Promise<Load> {
  if (opts.rate) return paced(url, tag, opts.seconds ?? SECONDS, opts.path, opts.rate);
  const { default: autocannon } = await import('autocannon');
  const sent = new Map<string, number>();
  const acked = new Map<string, number>();
  const run = `${tag}${process.pid.toString(36)}${Date.now().toString(36)}`;
  const start = now();
  const r = await autocannon({
    url: `${url}${opts.path}`,
    connections: CONNECTIONS,
    ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds ?? SECONDS }),
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        setupRequest: (req, context: object) => {
          const id = `${run}-${++seq}`;
          const t = now();
          (context as { id?: string }).id = id;
          sent.set(id, t);
          return { ...req, body: orderBody(id, t) };
        },
        onResponse: (status, _body, context: object) => {
          if (status >= 200 && status < 300) acked.set((context as { id: string }).id, now());
        },
      },
    ],
  });
  const end = now();
  return { acked, sent, ok: r['2xx'], errors: r.non2xx + r.errors + r.timeouts, start, end, rps: r['2xx'] / ((end - start) / 1000) };
}

/**
 * Open-loop load at a steady rate: one message every 1000/rate ms (autocannon's
 * rate limit sends each second's share in a burst at the start of the second,
 * which measures queueing behind the burst rather than the pipeline).
 */
async function paced(url: string, tag: string, seconds: number, path: string, rate: number): Promise<Load> {
  const { Pool } = await import('undici');
  const pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 });
  const sent = new Map<string, number>();
  const acked = new Map<string, number>();
  const run = `${tag}${process.pid.toString(36)}${Date.now().toString(36)}`;
  let ok = 0;
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const start = now();
  const total = Math.round(seconds * rate);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    const id = `${run}-${++seq}`;
    const t = now();
    sent.set(id, t);
    inflight.push(
      pool
        .request({ path, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: orderBody(id, t) })
        .then(async (r) => {
          await r.body.dump();
          if (r.statusCode >= 200 && r.statusCode < 300) {
            acked.set(id, now());
            ok++;
          } else errors++;
        })
        .catch(() => {
          errors++;
        }),
    );
  }
  await Promise.all(inflight);
  const end = now();
  await pool.close();
  return { acked, sent, ok, errors, start, end, rps: ok / ((end - start) / 1000) };
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface LiveResult {
  name: string;
  fanout: number;
  ackedPerS: number;
  deliveredPerS: number;
  ackP50: number;
  ackP99: number;
  sendP50: number;
  sendP99: number;
  rssMiB: number;
  /** CPU time of the hub (or relay) per acknowledged message, in ms: intake, normalize and delivery. */
  cpuPerMsg: number;
  /** From the end of the load until the last delivery arrived. */
  tailS: number;
  lost: number;
  note: string;
}

interface Target {
  name: string;
  fanout: number;
  start(rcv: Proc): Promise<Proc>;
  path: string;
  isHub: boolean;
}

/** Warm-up, drain, measured run, drain; then the figures. */
async function live(rcv: Proc, target: Target): Promise<LiveResult> {
  const { fanout } = target;
  await rreset(rcv);
  const srv = await target.start(rcv);
  try {
    if (WARMUP > 0) {
      const w = await load(srv.url, 'w', { seconds: WARMUP, path: target.path, rate: RATE });
      await waitDelivered(rcv, w.acked, fanout, DRAIN_WAIT_MS);
      await sleep(200);
      await rreset(rcv);
    }
    const cpu0 = cpuMs(srv.child.pid);
    const m = await load(srv.url, 'm', { seconds: SECONDS, path: target.path, rate: RATE });
    const { arrivals, stats: s, lost } = await waitDelivered(rcv, m.acked, fanout, DRAIN_WAIT_MS);
    const rssMiB = peakRssMiB(srv.child.pid);
    const cpuPerMsg = (cpuMs(srv.child.pid) - cpu0) / Math.max(1, m.acked.size);
    let inWindow = 0;
    const ackLat: number[] = [];
    const sendLat: number[] = [];
    for (const [id, ackAt] of m.acked) {
      const ts = arrivals.get(id) ?? [];
      const sentAt = m.sent.get(id)!;
      for (const t of ts) {
        ackLat.push(t - ackAt);
        sendLat.push(t - sentAt);
      }
    }
    for (const ts of arrivals.values()) for (const t of ts) if (t >= m.start && t <= m.end) inWindow++;
    const sortF = (a: number[]) => Float64Array.from(a).sort();
    const a = sortF(ackLat);
    const sl = sortF(sendLat);
    const r: LiveResult = {
      name: target.name,
      fanout,
      ackedPerS: m.rps,
      deliveredPerS: inWindow / ((m.end - m.start) / 1000),
      ackP50: pct(a, 50),
      ackP99: pct(a, 99),
      sendP50: pct(sl, 50),
      sendP99: pct(sl, 99),
      rssMiB,
      cpuPerMsg,
      tailS: s.last !== null ? Math.max(0, (s.last - m.end) / 1000) : NaN,
      lost,
      note: m.errors ? `${m.errors} non-2xx/errors` : '',
    };
    printLive(r);
    return r;
  } finally {
    await stopProc(srv);
  }
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '—');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '—');

function printLive(r: LiveResult): void {
  console.log(
    `${r.name.padEnd(22)} ${String(r.fanout).padStart(3)} ${f0(r.ackedPerS).padStart(8)} ${f0(r.deliveredPerS).padStart(10)} ` +
      `${`${f1(r.ackP50)} / ${f1(r.ackP99)}`.padStart(17)} ${`${f1(r.sendP50)} / ${f1(r.sendP99)}`.padStart(17)} ` +
      `${f1(r.tailS).padStart(6)} ${f0(r.rssMiB).padStart(6)} ${f0(r.cpuPerMsg * 1000).padStart(7)}  ${r.lost ? `UNDELIVERED ${r.lost}` : 'ok'}${r.note ? `  (${r.note})` : ''}`,
  );
}

function writeProject(dir: string, receiverUrl: string, fanout: number): void {
  mkdirSync(join(dir, 'mappings'), { recursive: true });
  writeFileSync(join(dir, 'causeway.yaml'), projectYaml(receiverUrl, fanout));
  writeFileSync(join(dir, 'mappings', 'order.jsonata'), INBOUND_MAPPING);
  writeFileSync(join(dir, 'mappings', 'erp.jsonata'), OUTBOUND_MAPPING);
}

let dbSeq = 0;
/** A fresh database URL for one hub run. */
function freshDb(dialect: 'sqlite' | 'postgres'): string {
  dbSeq++;
  if (dialect === 'sqlite') return `sqlite:${join(work, `hub-${dbSeq}.db`)}`;
  const schema = `cw_e2e_${process.pid}_${dbSeq}`;
  pgSchemas.push(schema);
  return `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
}

function startHub(rcv: Proc, fanout: number, databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<Proc> {
  const dir = join(work, `project-f${fanout}`);
  writeProject(dir, rcv.url, fanout);
  return startProc([MAIN, 'start', '--project', dir, '--port', '0'], { DATABASE_URL: databaseUrl, ...extraEnv }, HUB_NODE_ARGS);
}

interface DrainResult {
  dialect: string;
  n: number;
  ingestS: number;
  drainS: number;
  rssMiB: number;
  delivered: number;
  done: number;
}

/**
 * Commits n messages to the inbox straight through the store (what intake
 * does once a message is accepted, minus HTTP), for the paused hub to
 * normalize: a 100k backlog is set up in the time normalizing takes.
 */
async function queueInbox(dbUrl: string, n: number): Promise<Map<string, number>> {
  const { openDb } = await import('../src/store/open.js');
  const { insertInboxBatch } = await import('../src/store/inbox.js');
  const { newTraceId } = await import('../src/ids.js');
  const ids = new Map<string, number>();
  const run = `q${process.pid.toString(36)}${Date.now().toString(36)}`;
  const db = await openDb(dbUrl);
  try {
    for (let i = 0; i < n; i += 500) {
      const batch: NewInboxMessage[] = [];
      for (let k = i; k < Math.min(n, i + 500); k++) {
        const id = `${run}-${k}`;
        const t = now();
        ids.set(id, t);
        batch.push({ system: 'shop', topic: 'orders', eventId: id, contentType: 'application/json', body: orderBody(id, t), traceId: newTraceId(), receivedAt: Math.floor(t) });
      }
      // The hub's normalizer writes too; SQLite may answer busy past its timeout on a loaded host.
      for (let attempt = 1; ; attempt++) {
        try {
          await db.tx((q) => insertInboxBatch(q, batch));
          break;
        } catch (e) {
          if (attempt >= 10 || !/locked|busy/i.test(String(e))) throw e;
          await sleep(100);
        }
      }
    }
  } finally {
    await db.close();
  }
  return ids;
}

/** Queues n deliveries with delivery paused, then times a fresh hub draining them. */
async function drain(rcv: Proc, dialect: 'sqlite' | 'postgres', n: number): Promise<DrainResult> {
  const { openDb } = await import('../src/store/open.js');
  const dbUrl = freshDb(dialect);
  await rreset(rcv);
  const t0 = now();
  const paused = await startHub(rcv, 1, dbUrl, { CAUSEWAY_DELIVERY_PAUSED: '1' });
  let acked: number;
  let ackedIds: Map<string, number>;
  try {
    if (DRAIN_VIA_HTTP) {
      const l = await load(paused.url, 'd', { amount: n, path: '/v1/inbound/shop/orders' });
      ackedIds = l.acked;
      if (l.acked.size < n) console.log(`  (drain ${n}: only ${l.acked.size} acknowledged, ${l.errors} errors)`);
    } else {
      ackedIds = await queueInbox(dbUrl, n);
    }
    acked = ackedIds.size;
    const db = await openDb(dbUrl);
    try {
      const deadline = now() + QUEUE_WAIT_MS;
      for (;;) {
        const row = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'`);
        if (Number(row?.n) >= acked) break;
        if (now() > deadline) throw new Error(`only ${String(row?.n)} of ${acked} deliveries queued (normalized) after ${QUEUE_WAIT_MS / 1000} s`);
        await sleep(200);
      }
    } finally {
      await db.close();
    }
  } finally {
    await stopProc(paused);
  }
  const ingestS = (now() - t0) / 1000;
  const stray = (await rstats(rcv)).n;
  if (stray > 0) throw new Error(`the paused hub delivered ${stray}`);
  const hub = await startHub(rcv, 1, dbUrl);
  const cpuStart = cpuMs(hub.child.pid);
  let waited: Awaited<ReturnType<typeof waitDelivered>>;
  let rssMiB: number;
  let cpu: number;
  try {
    waited = await waitDelivered(rcv, ackedIds, 1, DRAIN_WAIT_MS);
    rssMiB = peakRssMiB(hub.child.pid);
    cpu = cpuMs(hub.child.pid) - cpuStart;
  } finally {
    await stopProc(hub);
  }
  // The drain ends when the last message first arrived; repeats (at-least-once) are counted apart.
  let first = Infinity;
  let last = -Infinity;
  let repeats = 0;
  for (const ts of waited.arrivals.values()) {
    let t = Infinity;
    for (const x of ts) t = Math.min(t, x);
    first = Math.min(first, t);
    last = Math.max(last, t);
    repeats += ts.length - 1;
  }
  const db = await openDb(dbUrl);
  const byStatus = await db.all<{ status: string; n: number }>(`SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status`);
  await db.close();
  const done = Number(byStatus.find((x) => x.status === 'done')?.n ?? 0);
  const drainS = (last - Math.min(hub.listeningAt, first)) / 1000;
  const delivered = acked - waited.lost;
  const r: DrainResult = { dialect, n: acked, ingestS, drainS, rssMiB, delivered, done };
  const ok = delivered >= acked && done >= acked;
  console.log(
    `drain ${String(acked).padStart(7)} (${dialect.padEnd(8)})  ${f1(drainS).padStart(6)} s  ${f0(acked / drainS).padStart(6)} deliveries/s   ` +
      `hub peak RSS ${f0(rssMiB)} MiB, CPU ${f0((cpu / acked) * 1000)} µs/delivery   (queued in ${f1(ingestS)} s${repeats ? `, ${repeats} repeats` : ''})  ` +
      `${ok ? 'ok' : `UNDELIVERED ${acked - Math.min(delivered, done)}: deliveries ${byStatus.map((x) => `${x.status} ${String(x.n)}`).join(', ')}`}`,
  );
  return r;
}

async function main(): Promise<void> {
  const rcv = await startProc([SELF, 'receiver'], {});
  const relayTarget = (fanout: number): Target => ({
    name: 'bare relay',
    fanout,
    isHub: false,
    path: '/v1/inbound/shop/orders',
    start: (r) => startProc([SELF, 'relay', r.url, String(fanout)], {}),
  });
  const hubTarget = (dialect: 'sqlite' | 'postgres', fanout: number): Target => ({
    name: `hub, ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`,
    fanout,
    isHub: true,
    path: '/v1/inbound/shop/orders',
    start: (r) => startHub(r, fanout, freshDb(dialect)),
  });
  const dialects: Array<'sqlite' | 'postgres'> = PG ? ['sqlite', 'postgres'] : ['sqlite'];

  console.log(
    `e2e delivery: ${CONNECTIONS} connections${RATE ? ` at ${RATE} messages/s` : ''}, ${WARMUP} s warm-up + ${SECONDS} s per run, fan-out ${FANOUTS.join(' and ')}` +
      `${CONCURRENCY ? `, destination concurrency ${CONCURRENCY}` : ''}; latencies in ms, tail = s from end of load to last delivery\n`,
  );
  console.log(`${'target'.padEnd(22)} fan  acked/s deliveries/s  ack→rcpt p50/p99 send→rcpt p50/p99  tail s RSS MiB CPU µs/msg`);
  const results: Array<LiveResult & { round: number }> = [];
  for (const fanout of FANOUTS) {
    // Rounds alternate the relay and the hub, so each ratio compares two runs minutes apart at most.
    for (let round = 1; round <= ROUNDS; round++) {
      if (RELAY) results.push({ ...(await live(rcv, relayTarget(fanout))), round });
      for (const d of dialects) results.push({ ...(await live(rcv, hubTarget(d, fanout))), round });
    }
  }
  const drains: DrainResult[] = [];
  if (DRAINS.length) console.log('');
  let failed = false;
  for (const d of dialects) {
    for (const n of DRAINS) {
      try {
        drains.push(await drain(rcv, d, n));
      } catch (e) {
        failed = true;
        console.log(`drain ${String(n).padStart(7)} (${d.padEnd(8)})  not measured: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  await stopProc(rcv);

  console.log('');
  for (const fanout of FANOUTS) {
    for (const name of [...new Set(results.filter((x) => x.fanout === fanout && x.name !== 'bare relay').map((x) => x.name))]) {
      const ratios: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const base = results.find((r) => r.fanout === fanout && r.round === round && r.name === 'bare relay');
        const hub = results.find((r) => r.fanout === fanout && r.round === round && r.name === name);
        if (hub) ratios.push(hub.deliveredPerS / (base?.deliveredPerS ?? NaN));
      }
      const sorted = [...ratios].sort((a, b) => a - b);
      const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
      const target = fanout === 1 && name.includes('SQLite') ? '  (target >= 0.25)' : '';
      const each = ratios.length > 1 ? `  (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})` : '';
      console.log(`ratio ${name} / bare relay, fan-out ${fanout}: deliveries/s ${ratios.length > 1 ? 'median ' : ''}${median.toFixed(2)}${target}${each}`);
    }
  }
  for (const d of dialects) {
    const small = drains.find((x) => x.dialect === d && x.n <= 10_000);
    const big = drains.find((x) => x.dialect === d && x.n >= 100_000);
    if (small && big) console.log(`drain ${big.n}/${small.n} time ratio (${d}): ${(big.drainS / small.drainS).toFixed(1)}  (linear = ${(big.n / small.n).toFixed(0)}, target <= ${((big.n / small.n) * 1.2).toFixed(0)})`);
  }
  const lost = results.some((r) => r.lost > 0) || drains.some((x) => x.delivered < x.n || x.done < x.n);
  if (lost) console.log(`\nUNDELIVERED: some acknowledged messages had not arrived after ${DRAIN_WAIT_MS / 1000} s (BENCH_DRAIN_WAIT)`);
  if (lost || failed) process.exitCode = 1;
}

async function dropPgSchemas(): Promise<void> {
  if (pgSchemas.length === 0) return;
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  for (const s of pgSchemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await admin.end();
}

if (mode === 'receiver') receiver();
else if (mode === 'relay') await relay(process.argv[3]!, Number(process.argv[4] ?? 1));
else {
  work = mkdtempSync(join(tmpdir(), 'causeway-e2e-'));
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      cleanupSync();
      process.exit(130);
    });
  }
  try {
    await main();
  } catch (e) {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exitCode = 1;
  } finally {
    for (const c of [...children]) c.kill('SIGTERM');
    await dropPgSchemas().catch((e: unknown) => console.error(`dropping the PostgreSQL schemas failed: ${String(e)}`));
    cleanupSync();
  }
}
