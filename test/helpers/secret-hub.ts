import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Hub, type HubOptions } from '../../src/hub.js';
import { keyringFromEnv } from '../../src/secrets/keyring.js';
import { SecretStore, type SecretOwner } from '../../src/secrets/store.js';
import type { Db } from '../../src/store/db.js';
import { testAdminToken } from './hub.js';

/** A fresh master key, as `causeway secrets generate-key` prints it. */
export function newMasterKey(): string {
  return randomBytes(32).toString('base64');
}

/** Stores secrets the way `causeway secrets set` does, before a hub starts. */
export async function seedSecrets(db: Db, env: NodeJS.ProcessEnv, secrets: ReadonlyArray<{ owner: SecretOwner; name: string; value: string }>): Promise<void> {
  const store = new SecretStore(db, keyringFromEnv(env));
  for (const s of secrets) await store.set(s.owner, s.name, s.value);
}

export interface RunningHub {
  hub: Hub;
  logs: string[];
  auth: { authorization: string };
  stop(): Promise<void>;
}

/**
 * A hub in this process, logs captured. `where` is an open database (closed
 * by hub.stop) or a DATABASE_URL (a restart on the same data).
 */
export async function startHubOn(where: { db: Db } | { databaseUrl: string }, projectDir: string, env: NodeJS.ProcessEnv, options: Partial<HubOptions> = {}): Promise<RunningHub> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const token = testAdminToken();
  const hub = new Hub({
    projectDir,
    ...where,
    env,
    log: pino({ level: 'debug' }, sink),
    worker: { idlePollMs: 10, leaseGraceMs: 1000 },
    ...options,
    settings: { adminToken: token },
  });
  try {
    await hub.init();
  } catch (e) {
    await hub.stop().catch(() => undefined);
    throw e;
  }
  return { hub, logs, auth: { authorization: `Bearer ${token}` }, stop: () => hub.stop() };
}
