import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrytonClient } from '../../src/connectors/tryton/rpc.js';
import type { TrytonConfig } from '../../src/connectors/tryton/manifest.js';
import { Egress } from '../../src/net/egress.js';

/**
 * The Tryton server the tests use: the one scripts/tryton/setup.sh started
 * (it writes $TRYTON_HOME/server.json), or TRYTON_URL & co. A private
 * server from the same template can be started and stopped by a test.
 */

export const TRYTON_HOME = process.env['TRYTON_HOME'] ?? '/var/tmp/causeway-tryton';

export interface TrytonServer {
  config: TrytonConfig;
  /** The initialized database file setup.sh keeps, for private servers. */
  template: string | undefined;
}

export const LOOPBACK = new Egress({ allow: ['127.0.0.1', 'localhost', '::1'] });

export function trytonServer(): TrytonServer {
  const env = process.env;
  if (env['TRYTON_URL']) {
    return {
      config: { url: env['TRYTON_URL'], database: env['TRYTON_DATABASE'] ?? 'tryton', login: env['TRYTON_LOGIN'] ?? 'admin', password: env['TRYTON_PASSWORD'] ?? 'admin' },
      template: undefined,
    };
  }
  const file = join(TRYTON_HOME, 'server.json');
  const info = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { url: string; database: string; login: string; password: string; template?: string }) : undefined;
  return {
    config: { url: info?.url ?? 'http://127.0.0.1:8000', database: info?.database ?? 'tryton', login: info?.login ?? 'admin', password: info?.password ?? 'admin' },
    template: info?.template && existsSync(info.template) ? info.template : undefined,
  };
}

/** Why the server cannot be used, or undefined when it answers a login. */
export async function unreachable(config: TrytonConfig): Promise<string | undefined> {
  try {
    await new TrytonClient(config, AbortSignal.timeout(5000), LOOPBACK).context();
    return undefined;
  } catch (e) {
    return `no Tryton answers at ${config.url} (database ${config.database}): ${(e as Error).message}`;
  }
}

export function client(config: TrytonConfig): TrytonClient {
  return new TrytonClient(config, AbortSignal.timeout(60_000), LOOPBACK);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface PrivateTryton {
  config: TrytonConfig;
  /** The database file, for a test that edits it while the server is stopped. */
  dbFile: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A trytond of our own on a fresh copy of the template, on a free loopback port. */
export async function privateTryton(template: string): Promise<PrivateTryton> {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-tryton-'));
  const dbFile = join(dir, 'tryton.sqlite');
  copyFileSync(template, dbFile);
  const port = await freePort();
  writeFileSync(join(dir, 'trytond.conf'), `[database]\nuri = sqlite://\npath = ${dir}\n\n[web]\nlisten = 127.0.0.1:${port}\n\n[session]\ntimeout = 36000\n`);
  const config: TrytonConfig = { url: `http://127.0.0.1:${port}`, database: 'tryton', login: 'admin', password: 'admin' };
  let child: ChildProcess | undefined;
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  const start = async () => {
    if (child) return;
    child = spawn('trytond', ['-c', join(dir, 'trytond.conf'), '-d', 'tryton'], { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`trytond exited with ${child.exitCode}`);
      const res = await fetch(`${config.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":0,"method":"common.server.version","params":[]}' }).catch(
        () => undefined,
      );
      if (res?.ok) return;
      if (Date.now() > deadline) throw new Error('trytond did not answer within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await start();
  return {
    config,
    dbFile,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Puts `quantity` more of a product into the warehouse's storage with a done move from the supplier location. */
export async function receiveStock(c: TrytonClient, productId: number, quantity: number): Promise<void> {
  const [supplier] = await c.model<number[]>('stock.location', 'search', [[['type', '=', 'supplier']], 0, 1, null]);
  const [wh] = await c.model<Array<{ storage_location: number }>>('stock.location', 'search_read', [[['type', '=', 'warehouse']], 0, 1, [['id', 'ASC']], ['storage_location']]);
  const company = (await c.context())['company'];
  const [currency] = await c.model<Array<{ currency: number }>>('company.company', 'read', [[company], ['currency']]);
  const [uom] = await c.model<number[]>('product.uom', 'search', [[['symbol', '=', 'u']], 0, 1, null]);
  const [move] = await c.model<number[]>('stock.move', 'create', [
    [
      {
        product: productId,
        uom,
        quantity,
        from_location: supplier,
        to_location: wh!.storage_location,
        unit_price: { __class__: 'Decimal', decimal: '10.00' },
        currency: currency!.currency,
      },
    ],
  ]);
  await c.model('stock.move', 'do', [[move]]);
}

/** Ships a customer shipment the way a warehouse clerk would: assign, pick, pack, done. */
export async function shipOut(c: TrytonClient, shipmentId: number): Promise<void> {
  const assigned = await c.model<boolean>('stock.shipment.out', 'assign_try', [[shipmentId]]);
  if (!assigned) await c.model('stock.shipment.out', 'assign_force', [[shipmentId]]);
  await c.model('stock.shipment.out', 'pick', [[shipmentId]]);
  await c.model('stock.shipment.out', 'pack', [[shipmentId]]);
  await c.model('stock.shipment.out', 'done', [[shipmentId]]);
}
