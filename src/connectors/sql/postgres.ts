import pg from 'pg';
import type { Egress } from '../../net/egress.js';
import type { ColumnInfo, Driver, Privilege, ReadResult, Statement, ValueKind } from './driver.js';
import { quoteTable, type TableRef } from './identifiers.js';
import { jsonValue, sqlTimestampToIso } from './values.js';

/** Types kept as the server's text (see values.ts): exact where a JS number or Date would round. */
const TEXT_OIDS: ReadonlySet<number> = new Set([
  20, // int8
  1700, // numeric
  790, // money
  1082, // date
  1083, // time
  1266, // timetz
  1114, // timestamp
  1184, // timestamptz
  1186, // interval
]);

const KIND_BY_OID: ReadonlyMap<number, ValueKind> = new Map<number, ValueKind>([
  [16, 'boolean'],
  [20, 'integer'],
  [21, 'number'],
  [23, 'number'],
  [26, 'number'],
  [700, 'number'],
  [701, 'number'],
  [1700, 'decimal'],
  [1082, 'date'],
  [1114, 'timestamp'],
  [1184, 'timestamptz'],
]);

/**
 * Per-pool type parsers, not the global `pg.types`: the hub's own store sets
 * int8 → number there, and a connector must neither depend on nor change it.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    TEXT_OIDS.has(oid) ? (text: string) => text : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** The libpq `options` parameter of the URL, if any: node-postgres would otherwise drop it for ours. */
function urlOptions(connectionString: string): string {
  try {
    return new URL(connectionString).searchParams.get('options') ?? '';
  } catch {
    return '';
  }
}

function convert(oid: number, v: unknown): unknown {
  if (typeof v === 'string' && oid === 1184) return sqlTimestampToIso(v);
  if (typeof v === 'string' && oid === 1114) return sqlTimestampToIso(v);
  return jsonValue(v);
}

export class PostgresDriver implements Driver {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(
    connectionString: string,
    readonly shown: string,
    options: { poolSize: number; timeoutMs: number; egress: Egress },
  ) {
    this.pool = new pg.Pool({
      connectionString,
      // Every connection's socket connects through the egress policy (resolved and checked at connect time).
      stream: () => options.egress.socket(),
      max: options.poolSize,
      connectionTimeoutMillis: options.timeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'causeway',
      // UTC: timestamptz text comes as +00 and becomes …Z; the same instant whatever the server's zone.
      // Ours go after any `options` the URL gives (search_path, …), so they win over a TimeZone there.
      options: [urlOptions(connectionString), `-c TimeZone=UTC -c statement_timeout=${options.timeoutMs}`].filter(Boolean).join(' '),
      types,
    });
    // An idle connection dropped by the server must not crash the hub; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  placeholder(n: number): string {
    // PostgreSQL infers the parameter's type from the column it is compared with: text in, exact comparison.
    return `$${n}`;
  }

  bindCursor(value: string | number | boolean): unknown {
    return value;
  }

  bindValue(value: unknown, column: ColumnInfo | undefined): unknown {
    // node-postgres sends a JS array as a PostgreSQL array: right for text[] columns, wrong for json ones.
    if (Array.isArray(value) && column?.array) return value;
    return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
  }

  async read(st: Statement, options: { readOnly: boolean }): Promise<ReadResult> {
    if (!options.readOnly) return this.result(await this.pool.query({ text: st.sql, values: st.params }));
    return this.withClient(async (c) => {
      await c.query('BEGIN READ ONLY');
      const r = await c.query({ text: st.sql, values: st.params });
      await c.query('COMMIT');
      return this.result(r);
    });
  }

  async write(statements: readonly Statement[]): Promise<number[]> {
    return this.withClient(async (c) => {
      await c.query('BEGIN');
      const counts: number[] = [];
      for (const st of statements) counts.push((await c.query({ text: st.sql, values: st.params })).rowCount ?? 0);
      await c.query('COMMIT');
      return counts;
    });
  }

  async columns(table: TableRef): Promise<ReadonlyMap<string, ColumnInfo>> {
    // pg_attribute, not information_schema: the latter hides columns the user holds no privilege on.
    const r = await this.pool.query<{ name: string; type: string; array: boolean }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory = 'A' AS array
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [quoteTable('postgres', table)],
    );
    return new Map(r.rows.map((c) => [c.name, { type: c.type.toLowerCase(), array: c.array }]));
  }

  async hasPrivilege(table: TableRef, privilege: Privilege): Promise<boolean> {
    const r = await this.pool.query<{ ok: boolean }>('SELECT has_table_privilege($1, $2) AS ok', [quoteTable('postgres', table), privilege]);
    return r.rows[0]?.ok === true;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Runs `work` on one connection; a failure rolls back, and a connection that cannot even roll back is discarded. */
  private async withClient<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    let broken: Error | undefined;
    try {
      return await work(c);
    } catch (e) {
      await c.query('ROLLBACK').catch((re: unknown) => {
        broken = re instanceof Error ? re : new Error(String(re));
      });
      throw e;
    } finally {
      c.release(broken);
    }
  }

  private result(r: pg.QueryResult): ReadResult {
    const fields = r.fields.map((f) => ({ name: f.name, oid: f.dataTypeID }));
    const rows = (r.rows as Record<string, unknown>[]).map((row) => {
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = convert(f.oid, row[f.name]);
      return out;
    });
    return { rows, kinds: new Map(fields.map((f) => [f.name, KIND_BY_OID.get(f.oid) ?? 'text'])) };
  }
}
