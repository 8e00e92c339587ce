import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildServer } from './api/server.js';
import type { HubContext, HubSettings } from './api/context.js';
import { loadProject, type Project } from './config/load.js';
import { InboxWriter } from './intake/writer.js';
import { createLogger } from './log.js';
import { Normalizer } from './normalize/normalizer.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import type { ChangeListener } from './records/write.js';
import type { Db } from './store/db.js';
import { migrate } from './store/migrate.js';
import { openDb, DEFAULT_DATABASE_URL, type OpenOptions } from './store/open.js';
import { syncSystems } from './store/systems.js';
import { closeConnectors } from './connectors/registry.js';
import { createRouter } from './delivery/router.js';
import { DeliveryWorker } from './delivery/worker.js';
import { Leader } from './delivery/leader.js';
import { ensureSystemStates } from './store/delivery-claim.js';
import { SourceRunner } from './sources/runner.js';

/**
 * What a process does: `api` receives (HTTP, intake); `worker` normalizes,
 * routes and delivers; `all` (the default) both. On PostgreSQL any number of
 * processes of any role share the work; on SQLite one process does it all.
 */
export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface HubOptions {
  projectDir: string;
  databaseUrl?: string;
  db?: Db;
  dbOptions?: OpenOptions;
  settings?: Partial<HubSettings>;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Start the background normalizer (default true). */
  normalize?: boolean;
  /** Start the delivery worker (default true). */
  deliver?: boolean;
  role?: Role;
  /** Sources wait while more inbox messages than this wait to be normalized (default 10,000; tests set it low). */
  sourceMaxBacklog?: number;
  /** Delivery worker tuning (tests shorten the lease grace). */
  worker?: { maxInFlight?: number; idlePollMs?: number; leaseGraceMs?: number };
}

export const DEFAULT_SETTINGS: HubSettings = { bodyLimit: 1024 * 1024, maxJsonDepth: 64, adminToken: undefined };

/**
 * One hub process: the database, the loaded project, the HTTP server, and
 * the background workers. `start` opens and migrates; `stop` stops
 * accepting, lets in-flight commits finish, and closes everything.
 */
export class Hub {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly settings: HubSettings;
  db!: Db;
  app!: FastifyInstance;
  writer!: InboxWriter;
  normalizer!: Normalizer;
  worker!: DeliveryWorker;
  leader!: Leader;
  sources!: SourceRunner;
  readonly role: Role;
  private current: Project;
  private ready = false;
  private readonly changeListeners: ChangeListener[] = [];

  constructor(private readonly options: HubOptions) {
    this.log = options.log ?? createLogger();
    this.metrics = createMetrics();
    this.settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this.current = loadProject(options.projectDir, options.env ?? process.env);
    this.role = options.role ?? 'all';
    this.changeListeners.push(createRouter(() => this.current, () => this.worker?.signal()));
  }

  get project(): Project {
    return this.current;
  }

  /** Replaces the running project (already validated). */
  setProject(p: Project): void {
    this.current = p;
    // Sources follow the project: the leader restarts them on the new config.
    if (this.leader?.isLeader) void this.sources.stop().then(() => this.sources.start());
  }

  /**
   * Swaps in a new, already validated project while running (`causeway
   * start` reloads on file changes). Systems it adds are recorded, with
   * their delivery state, before any change can be routed to them.
   */
  async reloadProject(p: Project): Promise<void> {
    await syncSystems(this.db, p);
    await this.db.tx((q) => ensureSystemStates(q, [...p.systems.values()].map((x) => [x.name, x.delivery] as [string, typeof x.delivery]), Date.now()));
    this.setProject(p);
  }

  /** Hooks into every new record version, in its transaction (used by routing). */
  addChangeListener(l: ChangeListener): void {
    this.changeListeners.push(l);
  }

  private readonly onChange: ChangeListener = async (q, change, record) => {
    for (const l of this.changeListeners) await l(q, change, record);
  };

  async init(): Promise<void> {
    this.db = this.options.db ?? (await openDb(this.options.databaseUrl ?? DEFAULT_DATABASE_URL, this.options.dbOptions ?? {}));
    await migrate(this.db);
    await syncSystems(this.db, this.current);
    await this.db.tx((q) => ensureSystemStates(q, [...this.current.systems.values()].map((x) => [x.name, x.delivery] as [string, typeof x.delivery]), Date.now()));
    this.writer = new InboxWriter(this.db, (n) => {
      this.metrics.inboxBatch.observe(n);
      this.normalizer.signal();
    });
    this.normalizer = new Normalizer({
      db: this.db,
      project: () => this.current,
      log: this.log,
      onChange: this.onChange,
      onBatch: (s) => {
        this.metrics.normalized.inc({ result: 'processed' }, s.processed);
        if (s.failed) this.metrics.normalized.inc({ result: 'failed' }, s.failed);
        for (const [outcome, n] of Object.entries(s.outcomes)) this.metrics.recordWrites.inc({ outcome }, n);
      },
    });
    this.worker = new DeliveryWorker({
      db: this.db,
      project: () => this.current,
      log: this.log,
      metrics: this.metrics,
      onChange: this.onChange,
      ...this.options.worker,
    });
    this.sources = new SourceRunner({
      db: this.db,
      project: () => this.current,
      log: this.log,
      onCommitted: () => this.normalizer.signal(),
      ...(this.options.sourceMaxBacklog !== undefined ? { maxBacklog: this.options.sourceMaxBacklog } : {}),
    });
    this.leader = new Leader({
      db: this.db,
      project: () => this.current,
      log: this.log,
      metrics: this.metrics,
      onLead: () => this.sources.start(),
      onLoseLead: () => this.sources.stop(),
    });
    const ctx: HubContext = {
      db: this.db,
      project: () => this.current,
      log: this.log,
      metrics: this.metrics,
      writer: this.writer,
      settings: this.settings,
      onChange: this.onChange,
      wakeNormalizer: () => this.normalizer.signal(),
      wakeWorker: () => this.worker.signal(),
      isReady: () => this.ready,
    };
    this.app = await buildServer(ctx);
    await this.app.ready();
    const works = this.role !== 'api';
    if (works && this.options.normalize !== false) this.normalizer.start();
    if (works && this.options.deliver !== false) this.worker.start();
    if (works) this.leader.start();
    this.ready = true;
  }

  async listen(port: number, host: string): Promise<string> {
    const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
    if (!loopback && !this.settings.adminToken) {
      throw new Error(`refusing to listen on ${host} without authentication: set CAUSEWAY_ADMIN_TOKEN or listen on 127.0.0.1`);
    }
    const address = await this.app.listen({ port, host });
    this.log.info({ address, project: this.current.dir, database: this.db.description }, 'hub listening');
    return address;
  }

  async stop(): Promise<void> {
    this.ready = false;
    await this.leader?.stop(); // stops the sources first: nothing new comes in
    // Stop accepting; requests in flight finish (their commits complete) before close resolves.
    await this.app?.close();
    await this.writer?.drain();
    await this.normalizer?.stop();
    await this.worker?.stop();
    await closeConnectors();
    await this.db?.close();
    this.log.info('hub stopped');
    this.log.flush?.();
  }
}
