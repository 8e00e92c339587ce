import type { Logger } from 'pino';
import type { Egress } from '../../net/egress.js';
import { checker } from '../http/validate.js';
import { PermanentError, RetryableError, type CheckContext, type CheckResult, type Connector, type ConnectorManifest } from '../types.js';
import { pollDrop } from './drop.js';
import { FileSystemError, type FileSystem } from './fs.js';
import { DropOptions, WriteOptions } from './manifest.js';
import { writeFile } from './write.js';

/** What a file connector kind brings: how to reach its file system, and how to tell whether it can. */
export interface FileBackend {
  /** Runs `fn` with the system's file system (for SFTP a pooled, reused connection). */
  use<T>(system: string, config: Record<string, unknown>, signal: AbortSignal, log: Logger, egress: Egress, fn: (fs: FileSystem) => Promise<T>): Promise<T>;
  /** Connects and lists the root, with fresh credentials (no pooled connection). */
  check(ctx: CheckContext): Promise<CheckResult>;
  /** Where the files are, for attempt summaries: `sftp://host:22/in`, `/srv/drop`. No secrets. */
  where(config: Record<string, unknown>): string;
  close(): Promise<void>;
}

const parseDrop = checker(DropOptions, 'the drop source options');
const parseWrite = checker(WriteOptions, 'the write options (do.with)');

/** A connector of the file family: the `drop` source and the `write` action over a backend. */
export function fileConnector(manifest: ConnectorManifest, backend: FileBackend): Connector {
  return {
    manifest,
    async poll(source, cursor, ctx) {
      if (source !== 'drop') throw new PermanentError(`the ${manifest.kind} connector has no source "${source}"`);
      const options = parseDrop(ctx.options);
      return backend.use(ctx.system, ctx.config, ctx.signal, ctx.log, ctx.egress, (fs) => pollDrop(fs, cursor, options, { system: ctx.system, source: ctx.source, log: ctx.log }));
    },
    async act(action, input, ctx) {
      if (action !== 'write') throw new PermanentError(`the ${manifest.kind} connector has no action "${action}"`);
      const options = parseWrite(ctx.options);
      try {
        return await backend.use(ctx.system, ctx.config, ctx.signal, ctx.log, ctx.egress, (fs) => writeFile(fs, input, options, ctx, backend.where(ctx.config)));
      } catch (e) {
        throw asActionError(e);
      }
    },
    check: (ctx) => backend.check(ctx),
    close: () => backend.close(),
  };
}

/** Credentials, permissions and paths do not fix themselves: permanent. A lost connection or a busy server: retry. */
export function asActionError(e: unknown): unknown {
  if (!(e instanceof FileSystemError)) return e;
  switch (e.code) {
    case 'auth_failed':
    case 'host_key_mismatch':
    case 'permission_denied':
    case 'invalid_path':
      return new PermanentError(e.message, { cause: e });
    default:
      return new RetryableError(e.message, { cause: e });
  }
}

/** A failure of connect-and-list as a check result. */
export function checkProblem(e: unknown): CheckResult {
  const message = e instanceof Error ? e.message : String(e);
  if (!(e instanceof FileSystemError)) return { ok: false, problem: 'unreachable', message };
  switch (e.code) {
    case 'auth_failed':
      return { ok: false, problem: 'wrong_credentials', message };
    case 'permission_denied':
      return { ok: false, problem: 'missing_permission', message };
    case 'host_key_mismatch':
    case 'not_found':
    case 'invalid_path':
      return { ok: false, problem: 'misconfigured', message };
    default:
      return { ok: false, problem: 'unreachable', message };
  }
}
