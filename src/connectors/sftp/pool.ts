import type { Logger } from 'pino';
import type { Egress } from '../../net/egress.js';
import { FileSystemError, type FileSystem } from '../files/fs.js';
import type { SftpConfig } from './manifest.js';
import { connectSftp, type SftpSession } from './session.js';

// A source polls every few seconds and reads a big file in many batches: an SSH handshake per poll
// (tens of ms, more over a WAN) would dominate. An idle connection is closed after this long.
const IDLE_MS = 30_000;

interface Entry {
  session: Promise<SftpSession>;
  users: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One SSH connection per system and config, shared by its sources and
 * deliveries (SFTP runs many requests on one channel), reopened when it
 * drops, closed when idle or when the hub stops.
 */
export class SftpPool {
  private readonly entries = new Map<string, Entry>();

  async use<T>(system: string, config: SftpConfig, log: Logger, signal: AbortSignal, egress: Egress, fn: (fs: FileSystem) => Promise<T>): Promise<T> {
    const key = `${system}\n${JSON.stringify(config)}\n${egress.key}`;
    let entry = this.entries.get(key);
    if (entry && (await entry.session.then((s) => s.closed, () => true))) {
      this.discard(key, entry);
      entry = undefined;
    }
    if (!entry) {
      const created: Entry = { session: connectSftp(config, log, egress, signal), users: 0, timer: undefined };
      created.session.catch(() => this.discard(key, created));
      this.entries.set(key, created);
      entry = created;
    }
    clearTimeout(entry.timer);
    entry.users++;
    try {
      const session = await entry.session;
      return await fn(session.fs);
    } catch (e) {
      // A lost connection makes every later call fail too: start over with a new one.
      if (e instanceof FileSystemError && e.code === 'unreachable') this.discard(key, entry);
      throw e;
    } finally {
      entry.users--;
      const idle = entry;
      if (idle.users === 0 && this.entries.get(key) === idle) {
        idle.timer = setTimeout(() => this.discard(key, idle), IDLE_MS);
        idle.timer.unref();
      }
    }
  }

  private discard(key: string, entry: Entry): void {
    clearTimeout(entry.timer);
    if (this.entries.get(key) === entry) this.entries.delete(key);
    entry.session.then((s) => s.end(), () => undefined);
  }

  async close(): Promise<void> {
    for (const [key, entry] of [...this.entries]) this.discard(key, entry);
  }
}
