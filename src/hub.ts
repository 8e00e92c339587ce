import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildServer } from './api/server.js';
import type { HubContext, HubSettings } from './api/context.js';
import { loadProject, type Project } from './config/load.js';
import { InboxWriter, type InlineNormalizer } from './intake/writer.js';
import { createLogger } from './log.js';
import { Normalizer, type InlineBatch } from './normalize/normalizer.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import type { ChangeListener } from './records/write.js';
import type { Db } from './store/db.js';
import { migrate } from './store/migrate.js';
import { openDb, DEFAULT_DATABASE_URL, type OpenOptions } from './store/open.js';
import { syncSystems } from './store/systems.js';
import { closeConnectors } from './connectors/registry.js';
import { createRouter } from './delivery/router.js';
import { DEFAULT_LEASE_GRACE_MS, DeliveryWorker } from './delivery/worker.js';
import { LocalHandoff, type HandoffTarget } from './delivery/handoff.js';
import { DeliveryThread } from './delivery/thread.js';
import { SqliteDb } from './store/sqlite.js';
import { Leader } from './delivery/leader.js';
import { ensureSystemStates } from './store/delivery-claim.js';
import { SourceRunner } from './sources/runner.js';
import { bootstrapAdminToken, type BootstrapResult } from './auth/bootstrap.js';
import { audit, HUB_ACTOR } from './audit/audit.js';
import { countAdminTokens } from './store/api-tokens.js';
import { checkProjectSecrets } from './secrets/check.js';
import { keyringFromEnv } from './secrets/keyring.js';
import { ConnectorSecrets } from './secrets/runtime.js';
import { SecretStore } from './secrets/store.js';
import { reportProjection } from './reports/projection.js';

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
  /**
   * On a SQLite file, run the delivery worker in a thread of its own
   * (src/delivery/thread.ts) so that the hub uses a second core; `causeway
   * start` does. Ignored on PostgreSQL (more processes are the answer there)
   * and in memory. Default false: tests drive the worker in this thread.
   */
  deliveryThread?: boolean;
  /** The delivery thread stopped on its own; `causeway start` exits so that a supervisor restarts the hub. */
  onFatal?: (error: Error) => void;
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
  /** Set when the delivery worker runs in its own thread (then `worker` is not started). */
  deliveryThread: DeliveryThread | undefined;
  /** The encrypted secret store and the per-call resolution of `${secret:…}` (src/secrets/). */
  secrets!: ConnectorSecrets;
  readonly role: Role;
  /** What start-up did about the admin token; `created` carries the one token to show once. */
  auth!: BootstrapResult;
  private current: Project;
  private ready = false;
  /**
   * Where routing hands deliveries of records created here
   * (src/delivery/handoff.ts): this process's worker or delivery thread,
   * once it runs; none in a process that does not deliver.
   */
  private handoff: HandoffTarget | undefined;
  private localHandoff: LocalHandoff | undefined;
  private readonly changeListeners: ChangeListener[] = [];

  constructor(private readonly options: HubOptions) {
    this.log = options.log ?? createLogger();
    this.metrics = createMetrics();
    this.settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this.current = loadProject(options.projectDir, options.env ?? process.env);
    this.role = options.role ?? 'all';
    this.changeListeners.push(createRouter(() => this.current, () => this.wakeDeliveries(), () => this.handoff));
    // The report tables follow every record version, in its transaction (src/reports/projection.ts).
    this.changeListeners.push(reportProjection);
  }

  /** Deliveries were queued or replayed: the worker (here or in its thread) looks now. */
  private wakeDeliveries(): void {
    if (this.deliveryThread) this.deliveryThread.signal();
    else this.worker?.signal();
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
    // A project whose secrets are not set is refused here, not at its first delivery.
    await checkProjectSecrets(p, this.secrets);
    await syncSystems(this.db, p);
    await this.db.tx((q) => ensureSystemStates(q, [...p.systems.values()].map((x) => [x.name, x.delivery] as [string, typeof x.delivery]), Date.now()));
    this.setProject(p);
    this.deliveryThread?.reload();
    this.localHandoff?.reload();
    // Who edited the files is the project's version control's to say; the log records when the hub took them on.
    await audit(this.db, { actor: HUB_ACTOR, action: 'config.reload', target: p.file, detail: { systems: p.systems.size, flows: p.flows.size } });
  }

  /** Intake's side of normalizing at intake: the normalizer's inline methods (src/intake/writer.ts). */
  private inlineNormalizer(): InlineNormalizer<InlineBatch> {
    return {
      expects: () => this.normalizer.expectsInline(),
      prepare: (messages) => this.normalizer.prepareInline(messages),
      accepts: (q) => this.normalizer.acceptsInline(q),
      normalize: (q, messages, batch, indexes) => this.normalizer.normalizeInline(q, messages, { ...batch, mapped: indexes.map((i) => batch.mapped[i]!) }),
      committed: (batch) => this.normalizer.inlineCommitted(batch),
      aborted: (batch) => this.normalizer.inlineAborted(batch),
    };
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
    // Always authenticated: the first start creates the admin token (shown once by `causeway start`), or takes CAUSEWAY_ADMIN_TOKEN.
    this.auth = await bootstrapAdminToken(this.db, this.settings.adminToken);
    // The master key comes from the environment only; a project that references secrets fails here, clearly, without it.
    this.secrets = new ConnectorSecrets(this.db, new SecretStore(this.db, keyringFromEnv(this.options.env ?? process.env)));
    await checkProjectSecrets(this.current, this.secrets);
    await syncSystems(this.db, this.current);
    await this.db.tx((q) => ensureSystemStates(q, [...this.current.systems.values()].map((x) => [x.name, x.delivery] as [string, typeof x.delivery]), Date.now()));
    // Where this process normalizes, intake normalizes what it writes in the same transaction (normalizeInline).
    const normalizesHere = this.role !== 'api' && this.options.normalize !== false;
    this.writer = new InboxWriter(this.db, {
      onCommitted: (written, waiting) => {
        this.metrics.inboxBatch.observe(written);
        if (waiting > 0) this.normalizer.signal();
      },
      ...(normalizesHere ? { inline: this.inlineNormalizer() } : {}),
    });
    this.normalizer = new Normalizer({
      db: this.db,
      project: () => this.current,
      log: this.log,
      onChange: this.onChange,
      handoff: () => this.handoff,
      downstreamBusy: () => (this.deliveryThread ? this.deliveryThread.backlogged : this.worker.backlogged),
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
      secrets: this.secrets,
      ...this.options.worker,
    });
    this.sources = new SourceRunner({
      db: this.db,
      project: () => this.current,
      log: this.log,
      onCommitted: () => this.normalizer.signal(),
      secrets: this.secrets,
      ...(this.options.sourceMaxBacklog !== undefined ? { maxBacklog: this.options.sourceMaxBacklog } : {}),
    });
    this.leader = new Leader({
      db: this.db,
      project: () => this.current,
      log: this.log,
      metrics: this.metrics,
      onLead: () => this.sources.start(),
      onLoseLead: () => this.sources.stop(),
      secrets: this.secrets,
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
      wakeWorker: () => this.wakeDeliveries(),
      threadMetrics: () => this.deliveryThread?.metrics() ?? Promise.resolve([]),
      isReady: () => this.ready,
      secrets: this.secrets.store,
    };
    this.app = await buildServer(ctx);
    await this.app.ready();
    const works = this.role !== 'api';
    if (works && this.options.normalize !== false) this.normalizer.start();
    if (works && this.options.deliver !== false) {
      const db = this.db;
      if (this.options.deliveryThread && db instanceof SqliteDb && db.path !== ':memory:') {
        this.deliveryThread = new DeliveryThread({
          projectDir: this.options.projectDir,
          project: () => this.current,
          env: this.options.env ?? process.env,
          database: { path: db.path, synchronous: db.synchronous, gate: db.shareWriteGate() },
          worker: this.options.worker ?? {},
          log: this.log,
          onFailure: (e) => (this.options.onFatal ?? ((err: Error) => this.log.fatal({ err: err.message }, 'the delivery thread failed')))(e),
        });
        await this.deliveryThread.start();
        this.handoff = this.deliveryThread;
      } else {
        const local = new LocalHandoff(this.worker, () => this.current, this.options.worker?.leaseGraceMs ?? DEFAULT_LEASE_GRACE_MS);
        this.worker.start();
        this.localHandoff = local;
        this.handoff = local;
      }
    }
    if (works) this.leader.start();
    this.ready = true;
  }

  async listen(port: number, host: string): Promise<string> {
    const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
    // Every route needs a token; one that nobody can present (every admin token revoked or expired) is no protection plan to expose.
    if (!loopback && (await countAdminTokens(this.db, Date.now())).live === 0) {
      throw new Error(
        `refusing to listen on ${host} without authentication: no live admin token. Set CAUSEWAY_ADMIN_TOKEN, or create one with \`causeway tokens create --name NAME --role admin --database URL\`, or listen on 127.0.0.1`,
      );
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
    this.handoff = undefined;
    await this.deliveryThread?.stop();
    await this.worker?.stop();
    await closeConnectors();
    await this.db?.close();
    this.log.info('hub stopped');
    this.log.flush?.();
  }
}
