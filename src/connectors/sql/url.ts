import { resolve } from 'node:path';
import { PermanentError } from '../types.js';

/**
 * Where a system's database is, from its `url`. The URL holds the password,
 * so it never leaves this module whole: `shown` is the same URL with the
 * password replaced, for logs, errors and attempt summaries.
 */
export type Target =
  | { dialect: 'postgres'; connectionString: string; shown: string }
  | { dialect: 'mysql'; options: MysqlTarget; shown: string }
  | { dialect: 'sqlite'; path: string; shown: string };

export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string | undefined;
  socketPath?: string;
  ssl?: Record<string, unknown>;
  charset?: string;
}

/** The URL with its password (if any) replaced by `***`. Never throws: it is used in error paths. */
export function redactUrl(url: string): string {
  if (url.startsWith('sqlite:')) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a URL we can parse: show only the scheme, the rest may be a password.
    return `${url.split(':')[0] ?? 'sql'}://…`;
  }
}

export function parseTarget(url: string): Target {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '' || path === ':memory:') throw new PermanentError('a sqlite: url needs a file path (an in-memory database would be empty)');
    // Relative paths resolve against the working directory, as DATABASE_URL does.
    return { dialect: 'sqlite', path: resolve(path), shown: url };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PermanentError(`${redactUrl(url)} is not a URL`);
  }
  const shown = redactUrl(url);
  const scheme = u.protocol.slice(0, -1);
  if (scheme === 'postgres' || scheme === 'postgresql') return { dialect: 'postgres', connectionString: url, shown };
  if (scheme === 'mysql' || scheme === 'mariadb') return { dialect: 'mysql', options: mysqlOptions(u, shown), shown };
  throw new PermanentError(`${shown}: the url must start with postgres://, mysql://, mariadb:// or sqlite:`);
}

/**
 * mysql2 would copy every query parameter into its options (including ones
 * like `multipleStatements`), so only these few are taken over.
 */
function mysqlOptions(u: URL, shown: string): MysqlTarget {
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  const out: MysqlTarget = {
    host: decodeURIComponent(u.hostname.replace(/^\[|\]$/g, '')) || 'localhost',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: database === '' ? undefined : database,
  };
  for (const [key, value] of u.searchParams) {
    if (key === 'socketPath' || key === 'socket') out.socketPath = value;
    else if (key === 'charset') out.charset = value;
    else if (key === 'ssl') out.ssl = sslOption(value, shown);
    else throw new PermanentError(`${shown}: unknown url parameter "${key}" (known: socketPath, charset, ssl)`);
  }
  return out;
}

function sslOption(value: string, shown: string): Record<string, unknown> {
  if (value === 'true' || value === '1') return { rejectUnauthorized: true };
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new PermanentError(`${shown}: ssl must be true or a JSON object of TLS options`);
}
