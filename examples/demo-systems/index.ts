import { createCarrier, type Carrier } from './carrier.js';
import { createErp, type Erp } from './erp.js';
import { createMailer, type Mailer } from './mailer.js';
import { serve, type DemoServer, type Log } from './server.js';
import { demoSettings, SYSTEMS, URL_VARS, type DemoSettings, type SystemName } from './settings.js';
import type { StandIn, StandInContext } from './stand-in.js';
import { createStore, type Store } from './store.js';
import { createWarehouse, type Warehouse } from './warehouse.js';

/**
 * The five demo stand-ins — store, ERP, warehouse, carrier, mailer — each a
 * plain HTTP server on its own loopback port with its state in memory. They
 * are not part of the hub: they talk to it over HTTP only, as real systems
 * would.
 */

export interface StartOptions {
  settings?: DemoSettings;
  /** Listen on free ports instead of the ones in the settings (tests run side by side). */
  anyPort?: boolean;
  log?: Log;
  /** The ERP answers its first new request and every n-th after it 503, once each (0: never). Default 3. */
  erpFailEvery?: number;
  /** The first number this run gives out (ERP, warehouse, carrier, mailer ids; the demo's order ids). Default: from the clock. */
  seed?: number;
}

export interface DemoSystems {
  /** The first number this run gives out. */
  seed: number;
  urls: Record<SystemName, string>;
  /** The variables that point the example project (causeway.yaml) at these stand-ins. */
  env: Record<string, string>;
  store: Store;
  erp: Erp;
  warehouse: Warehouse;
  carrier: Carrier;
  mailer: Mailer;
  /** Where the stand-ins send to the hub, once it is known. */
  setHubUrl(url: string): void;
  /** Waits for reports still on their way to the hub, then stops every server. */
  close(): Promise<void>;
}

/**
 * Six digits from the clock's seconds, a multiple of 10 (they repeat after
 * 25 hours). The hub keeps its data between demo runs, and the stand-ins
 * forget theirs: ids they hand out must not repeat an earlier run's, or the
 * hub would take a new label for the update of an old one.
 */
export function runSeed(now = Date.now()): number {
  return 100_000 + (Math.floor(now / 1000) % 90_000) * 10;
}

function clock(): string {
  return new Date().toTimeString().slice(0, 8);
}

/** Prints `12:00:01  erp        ← PUT /customers/…  201  customer C-10001 created`. */
export const printLog: Log = (system, line) => {
  process.stdout.write(`${clock()}  ${system.padEnd(9)}  ${line}\n`);
};

export async function startDemoSystems(options: StartOptions = {}): Promise<DemoSystems> {
  const settings = options.settings ?? demoSettings();
  const log = options.log ?? printLog;
  let hubUrl = settings.hubUrl;
  const urls = { ...settings.urls };
  const seed = options.seed ?? runSeed();
  const context = (name: SystemName): StandInContext => ({ settings, log, hubUrl: () => hubUrl, selfUrl: () => urls[name] });

  const store = createStore(context('store'));
  const erp = createErp(context('erp'), { failEvery: options.erpFailEvery ?? 3, seed });
  const warehouse = createWarehouse(context('warehouse'), { seed });
  const carrier = createCarrier(context('carrier'), { seed });
  const mailer = createMailer(context('mailer'), { seed });
  const standIns: Record<SystemName, StandIn> = { store, erp, warehouse, carrier, mailer };

  const servers: DemoServer[] = [];
  const closeAll = () => Promise.all(servers.map((s) => s.close()));
  try {
    for (const name of SYSTEMS) {
      const at = new URL(settings.urls[name]);
      const host = at.hostname.replace(/^\[|\]$/g, '');
      const port = options.anyPort ? 0 : Number(at.port || 80);
      const standIn = standIns[name];
      const server = await serve({ name, host, port, log, routes: standIn.routes, ...(standIn.refuse ? { refuse: standIn.refuse } : {}) }).catch((e: unknown) => {
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(`the ${name} stand-in cannot listen on ${at.host} (${why}): is a demo already running? ${URL_VARS[name]}=http://127.0.0.1:<port> moves it`);
      });
      servers.push(server);
      urls[name] = server.url;
    }
  } catch (e) {
    await closeAll();
    throw e;
  }

  const env: Record<string, string> = {
    ...Object.fromEntries(SYSTEMS.map((s) => [URL_VARS[s], urls[s]])),
    STORE_API_KEY: settings.storeApiKey,
    STORE_WEBHOOK_SECRET: settings.storeWebhookSecret,
    STORE_ACCESS_TOKEN: settings.storeAccessToken,
    ERP_TOKEN: settings.erpToken,
    WAREHOUSE_API_KEY: settings.warehouseApiKey,
    WAREHOUSE_WEBHOOK_SECRET: settings.warehouseWebhookSecret,
    CARRIER_API_KEY: settings.carrierApiKey,
    MAILER_TOKEN: settings.mailerToken,
    LEGACY_DROP_DIR: settings.legacyDropDir,
  };

  return {
    seed,
    urls,
    env,
    store,
    erp,
    warehouse,
    carrier,
    mailer,
    setHubUrl(url) {
      hubUrl = url;
    },
    async close() {
      await warehouse.idle?.();
      await closeAll();
    },
  };
}
