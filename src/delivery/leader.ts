import type { Logger } from 'pino';
import type pg from 'pg';
import type { Project } from '../config/load.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../ops/metrics.js';
import type { Db } from '../store/db.js';
import { PostgresDb } from '../store/postgres.js';
import { sendDueAlerts } from './alerts.js';
import { stepBackfills } from './backfill.js';
import { stepPrivacy } from '../privacy/schedule.js';
import type { ConnectorSecrets } from '../secrets/runtime.js';

const TICK_MS = 1000;
/**
 * The backlog gauge counts every live delivery: a walk of the whole live part
 * of deliveries_due plus a GROUP BY. With 100,000 queued that took 185–470 ms
 * on SQLite on a loaded 2-core host (68 ms quiet), on the one connection that
 * intake and delivery share, every tick; a gauge scraped every 15–60 s does
 * not need it every second.
 */
const BACKLOG_EVERY_MS = 10_000;

/**
 * Exactly one process runs the schedules (sources, backfills, sending
 * alerts, refreshing backlog gauges, purging raw payloads past their
 * retention and sending erasure requests). On PostgreSQL that is whoever holds a session advisory lock on a
 * dedicated connection: when that process dies its connection closes, the
 * lock is released, and another process takes over within a tick. On SQLite
 * there is one process, and it leads.
 */
export class Leader {
  private running = false;
  private loop: Promise<void> | undefined;
  private client: pg.PoolClient | undefined;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private backlogAt = -Infinity;

  constructor(
    private readonly o: {
      db: Db;
      project: () => Project;
      log: Logger;
      metrics: Metrics;
      tickMs?: number;
      /** Called when this process becomes the leader (start sources) and when it stops leading. */
      onLead?: () => void;
      onLoseLead?: () => Promise<void>;
      /** Resolves secrets in the alert mail system's config (src/secrets/). */
      secrets?: ConnectorSecrets;
    },
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    if (this.leading) await this.o.onLoseLead?.();
    this.leading = false;
    if (this.client) {
      if (this.o.db instanceof PostgresDb) await this.client.query('SELECT pg_advisory_unlock($1)', [this.o.db.lockKey('leader')]).catch(() => undefined);
      this.client.release();
      this.client = undefined;
    }
  }

  private async acquire(): Promise<boolean> {
    const db = this.o.db;
    if (!(db instanceof PostgresDb)) return true;
    try {
      if (!this.client) this.client = await db.pool.connect();
      if (this.leading) {
        await this.client.query('SELECT 1'); // still connected, so still holding the lock
        return true;
      }
      const r = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [db.lockKey('leader')]);
      return r.rows[0]?.ok === true;
    } catch (e) {
      this.client?.release(true);
      this.client = undefined;
      this.o.log.warn({ err: errorMessage(e) }, 'leader election failed; will retry');
      return false;
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      const was = this.leading;
      this.leading = await this.acquire();
      if (this.leading && !was) {
        this.o.log.info('this process leads the schedules');
        this.o.onLead?.();
      }
      if (!this.leading && was) {
        this.o.log.warn('this process no longer leads the schedules');
        await this.o.onLoseLead?.();
      }
      if (this.leading) {
        try {
          await this.tick();
        } catch (e) {
          this.o.log.error({ err: errorMessage(e) }, 'scheduled work failed');
        }
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, this.o.tickMs ?? TICK_MS);
        this.wake = resolve;
      });
    }
  }

  private async tick(): Promise<void> {
    await stepBackfills(this.o.db, this.o.project(), this.o.log);
    await sendDueAlerts(this.o.db, this.o.project(), this.o.log, Date.now(), this.o.secrets);
    await stepPrivacy(this.o.db, this.o.project(), this.o.log, this.o.secrets);
    if (Date.now() - this.backlogAt >= BACKLOG_EVERY_MS) {
      this.backlogAt = Date.now();
      const rows = await this.o.db.all<{ system: string; n: number }>(
        `SELECT system, COUNT(*) AS n FROM deliveries WHERE status IN ('pending', 'retrying', 'leased') GROUP BY system`,
      );
      this.o.metrics.deliveryBacklog.reset();
      for (const r of rows) this.o.metrics.deliveryBacklog.set({ system: r.system }, Number(r.n));
    }
    const states = await this.o.db.all<{ system: string; circuit: string }>('SELECT system, circuit FROM system_state');
    for (const s of states) this.o.metrics.circuitOpen.set({ system: s.system }, s.circuit === 'closed' ? 0 : 1);
  }
}
