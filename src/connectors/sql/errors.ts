import { errorMessage } from '../../errors.js';
import { ActionError, PermanentError, RetryableError, type CallSummary, type CheckResult, type FailureKind } from '../types.js';
import type { SqlDialect } from './identifiers.js';

/**
 * What a database error means for the retry policy and for `check`. Decided
 * from the error's code (SQLSTATE, MySQL errno, SQLite result code), never
 * from its message text: a retry helps when the server was busy, unreachable
 * or chose us as a deadlock victim, and never when the data or the schema is
 * wrong.
 */

/** Socket and DNS failures, on every driver: the server may be back later. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

/**
 * PostgreSQL SQLSTATE classes (Appendix A) worth a retry: 08 connection, 40
 * transaction rollback (40001 serialization failure, 40P01 deadlock), 53
 * insufficient resources, 57 operator intervention (57014 statement timeout,
 * 57P01 admin shutdown, 57P03 cannot connect now), 58 system error. Every
 * other class (22 data, 23 integrity, 28 authorization, 42 syntax or access,
 * 3D no such database, …) fails the same way on every attempt.
 */
const PG_RETRYABLE_CLASSES = new Set(['08', '40', '53', '57', '58']);
/** 55P03 lock not available, 55006 object in use: a lock held by someone else. */
const PG_RETRYABLE_CODES = new Set(['55P03', '55006']);

/**
 * MySQL/MariaDB errnos worth a retry: 1040 too many connections, 1053
 * shutdown, 1205 lock wait timeout, 1213 deadlock, 1290 read-only (failover),
 * 1317 interrupted, 1615 re-prepare, 1927 connection killed (MariaDB), 1969
 * statement timeout (MariaDB), 3024 execution time exceeded, 2002–2013 client
 * connection errors.
 */
const MYSQL_RETRYABLE = new Set([1040, 1053, 1205, 1213, 1290, 1317, 1615, 1927, 1969, 3024, 2002, 2003, 2006, 2013, 2055]);
const MYSQL_CLIENT_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'POOL_CLOSED']);

/** SQLite primary result codes worth a retry: another writer holds the file, or the disk hiccupped or filled. */
const SQLITE_RETRYABLE = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_PROTOCOL', 'SQLITE_INTERRUPT']);

interface DbError {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  errors?: unknown;
}

function codeOf(e: unknown): string | undefined {
  const c = (e as DbError | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function isNetwork(e: unknown): boolean {
  const code = codeOf(e);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  // Node's happy-eyeballs connect reports an AggregateError holding one error per address.
  const inner = (e as DbError | null)?.errors;
  return Array.isArray(inner) && inner.some(isNetwork);
}

/** Undefined when the error carries no code we know: callers treat that as retryable, as the contract does. */
export function failureKind(dialect: SqlDialect, e: unknown): FailureKind | undefined {
  if (e instanceof ActionError) return e.kind;
  if (isNetwork(e)) return 'retryable';
  const code = codeOf(e);
  if (dialect === 'postgres') {
    if (code === undefined || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
    return PG_RETRYABLE_CLASSES.has(code.slice(0, 2)) || PG_RETRYABLE_CODES.has(code) ? 'retryable' : 'permanent';
  }
  if (dialect === 'mysql') {
    const errno = Number((e as DbError).errno);
    const state = (e as DbError).sqlState;
    if (code !== undefined && MYSQL_CLIENT_CODES.has(code)) return 'retryable';
    if (!Number.isInteger(errno) || errno <= 0) return undefined;
    if (MYSQL_RETRYABLE.has(errno) || state === '40001' || (typeof state === 'string' && state.startsWith('08'))) return 'retryable';
    return 'permanent';
  }
  if (code === undefined || !code.startsWith('SQLITE_')) return undefined;
  const primary = code.replace(/^(SQLITE_[A-Z]+).*$/, '$1');
  return SQLITE_RETRYABLE.has(primary) ? 'retryable' : 'permanent';
}

/** A short, password-free description of a database error, with its code. */
export function describeError(e: unknown): string {
  const code = codeOf(e) ?? (typeof (e as DbError | null)?.errno === 'number' ? String((e as DbError).errno) : undefined);
  const message = errorMessage(e) || (e instanceof AggregateError ? e.errors.map(errorMessage).join('; ') : 'unknown error');
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** Any failure of an action as the ActionError that steers its retry. */
export function actionError(dialect: SqlDialect, e: unknown, summary: CallSummary): ActionError {
  if (e instanceof ActionError) return e;
  const message = `${summary.request}: ${describeError(e)}`;
  return failureKind(dialect, e) === 'permanent' ? new PermanentError(message, { summary, cause: e }) : new RetryableError(message, { summary, cause: e });
}

/** A failed connect or query as a `check` result. */
export function checkProblem(dialect: SqlDialect, e: unknown, shown: string): CheckResult & { ok: false } {
  const message = `${shown}: ${describeError(e)}`;
  const code = codeOf(e);
  const errno = Number((e as DbError | null)?.errno);
  if (e instanceof PermanentError) return { ok: false, problem: 'misconfigured', message };
  if (dialect === 'postgres') {
    // 28P01 wrong password, 28000 no such role / not allowed by pg_hba; 42501 no CONNECT on the database.
    if (code === '28P01' || code === '28000') return { ok: false, problem: 'wrong_credentials', message };
    if (code === '42501') return { ok: false, problem: 'missing_permission', message };
    if (code === '3D000' || code === '3F000') return { ok: false, problem: 'misconfigured', message };
  }
  if (dialect === 'mysql') {
    // 1045 access denied (user or password); 1044 no access to the database; 1142/1143 table or column denied.
    if (errno === 1045 || errno === 1698) return { ok: false, problem: 'wrong_credentials', message };
    if (errno === 1044 || errno === 1142 || errno === 1143 || errno === 1227) return { ok: false, problem: 'missing_permission', message };
    if (errno === 1049 || errno === 1146) return { ok: false, problem: 'misconfigured', message };
  }
  if (dialect === 'sqlite') {
    if (code === 'SQLITE_READONLY' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') return { ok: false, problem: 'missing_permission', message };
    // A file has no server to be unreachable: a missing file or folder, or one that is not a database, is the config's fault.
    return { ok: false, problem: 'misconfigured', message };
  }
  if (failureKind(dialect, e) === 'permanent') return { ok: false, problem: 'misconfigured', message };
  return { ok: false, problem: 'unreachable', message };
}
