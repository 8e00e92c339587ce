import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import type { InboxWriter } from '../intake/writer.js';
import type { Metrics } from '../ops/metrics.js';
import type { Db } from '../store/db.js';
import type { ChangeListener } from '../records/write.js';

export interface HubSettings {
  /** Largest request body accepted, in bytes (default 1 MiB). */
  bodyLimit: number;
  /** Deepest JSON nesting accepted (default 64). */
  maxJsonDepth: number;
  /**
   * Bearer token for the management API (records, inbox, …). When unset the
   * hub only listens on loopback.
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
  /** False while starting or shutting down. */
  isReady(): boolean;
}
