import type { Logger } from 'pino';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Project } from '../config/load.js';
import type { InboxWriter } from '../intake/writer.js';
import type { Metrics } from '../ops/metrics.js';
import type { Db } from '../store/db.js';
import type { SecretStore } from '../secrets/store.js';
import type { ChangeListener } from '../records/write.js';

export interface HubSettings {
  /** Largest request body accepted, in bytes (default 1 MiB). */
  bodyLimit: number;
  /** Deepest JSON nesting accepted (default 64). */
  maxJsonDepth: number;
  /**
   * An admin token from the environment (CAUSEWAY_ADMIN_TOKEN), stored
   * hashed as the token `admin-from-env` at start (src/auth/bootstrap.ts).
   * When unset, the first start creates an admin token and shows it once.
   */
  adminToken: string | undefined;
}

/** What the HTTP routes need from the running hub. */
export interface HubContext {
  db: Db;
  project(): Project;
  log: Logger;
  metrics: Metrics;
  writer: InboxWriter;
  settings: HubSettings;
  onChange: ChangeListener | undefined;
  /** Tells the normalizer there is work now. */
  wakeNormalizer(): void;
  /** Tells the delivery worker there is work now (replays). */
  wakeWorker(): void;
  /** The delivery thread's metrics when it runs in one (src/delivery/thread.ts), added to /metrics. */
  threadMetrics?(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  /** False while starting or shutting down. */
  isReady(): boolean;
  /** The encrypted secret store (values never leave it through the API). */
  secrets?: SecretStore;
}
