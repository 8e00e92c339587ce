import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Hub, type HubOptions } from '../../src/hub.js';
import { countReceived } from '../../src/store/inbox.js';
import type { Dialect } from '../../src/store/db.js';
import { freshDb, type TestDb } from './db.js';
import { tempProject } from './project.js';

export interface TestHub {
  hub: Hub;
  db: TestDb;
  logs: string[];
  /** An admin API token (the hub is always authenticated). */
  token: string;
  /** `{ authorization: 'Bearer <admin token>' }`, for management API calls. */
  auth: { authorization: string };
  close(): Promise<void>;
}

/** A fresh admin token per hub, handed to it the way CAUSEWAY_ADMIN_TOKEN is. */
export function testAdminToken(): string {
  return `test-admin-${randomBytes(16).toString('hex')}`;
}

/**
 * A hub in this process on a fresh database, for handler tests through
 * `hub.app.inject` (no port). Logs are captured, not printed.
 */
export async function testHub(
  dialect: Dialect,
  yaml: string,
  files: Record<string, string> = {},
  options: Partial<HubOptions> = {},
): Promise<TestHub> {
  const project = tempProject(yaml, files);
  const db = await freshDb(dialect, { migrate: false });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const token = options.settings?.adminToken ?? testAdminToken();
  const hub = new Hub({ projectDir: project.dir, db: db.db, log: pino({ level: 'debug' }, sink), env: {}, ...options, settings: { ...options.settings, adminToken: token } });
  await hub.init();
  return {
    hub,
    db,
    logs,
    token,
    auth: { authorization: `Bearer ${token}` },
    close: async () => {
      await hub.stop();
      await db.cleanup();
      project.cleanup();
    },
  };
}

/** Waits until every committed inbox message is normalized (by the background loop or here). */
export async function normalized(hub: Hub): Promise<void> {
  await hub.writer.drain();
  const deadline = Date.now() + 20_000;
  while ((await countReceived(hub.db)) > 0) {
    if (Date.now() > deadline) throw new Error('messages still waiting to be normalized after 20 s');
    // A hub's own normalizer is waited for, not joined: on PostgreSQL a second batch beside it would be a
    // second normalizer taking what the first has not locked (a newer message of a record before an older one).
    if (!hub.normalizer.isRunning) await hub.normalizer.processBatch();
    await new Promise((r) => setTimeout(r, 5));
  }
}
