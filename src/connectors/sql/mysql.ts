import mysql from 'mysql2/promise';
import type { Egress } from '../../net/egress.js';
import type { ColumnInfo, Driver, Privilege, ReadResult, Statement, ValueKind } from './driver.js';
import { quoteTable, type TableRef } from './identifiers.js';
import type { MysqlTarget } from './url.js';
import { isoToMysqlDatetime, jsonValue, sqlTimestampToIso } from './values.js';

/** MySQL protocol column types (include/field_types.h) that need more than JSON. */
const T = { DECIMAL: 0, TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, TIMESTAMP: 7, LONGLONG: 8, INT24: 9, DATE: 10, DATETIME: 12, YEAR: 13, NEWDATE: 14, NEWDECIMAL: 246 } as const;

const KIND_BY_TYPE: ReadonlyMap<number, ValueKind> = new Map<number, ValueKind>([
  [T.TINY, 'number'],
  [T.SHORT, 'number'],
  [T.LONG, 'number'],
  [T.INT24, 'number'],
  [T.YEAR, 'number'],
  [T.FLOAT, 'number'],
  [T.DOUBLE, 'number'],
  [T.LONGLONG, 'integer'],
  [T.DECIMAL, 'decimal'],
  [T.NEWDECIMAL, 'decimal'],
  [T.TIMESTAMP, 'timestamptz'],
  [T.DATETIME, 'timestamp'],
  [T.DATE, 'date'],
  [T.NEWDATE, 'date'],
]);

/** What mysql2 accepts as parameters; our values are already JSON scalars or strings (see bindValue). */
type Values = Parameters<mysql.PoolConnection['execute']>[1];

/** MySQL/MariaDB errors for a denied table privilege: SELECT/INSERT command denied, column denied. */
const DENIED = new Set([1142, 1143]);

/**
 * MySQL and MariaDB through mysql2, with server-side prepared statements
 * (`execute`): values travel apart from the SQL text. BIGINT and DECIMAL come
 * as strings and dates as the server's text; every session runs in UTC so a
 * TIMESTAMP reads back as the same instant (…Z).
 */
export class MysqlDriver implements Driver {
  readonly dialect = 'mysql' as const;
  private readonly pool: mysql.Pool;
  /** Connections whose session has been set up (time zone). */
  private readonly prepared = new WeakSet<object>();

  constructor(
    target: MysqlTarget,
    readonly shown: string,
    options: { poolSize: number; timeoutMs: number; egress: Egress },
  ) {
    this.pool = mysql.createPool({
      // TCP connections open through the egress policy (a Unix socket path is local IPC, not egress).
      ...(target.socketPath === undefined ? { stream: () => options.egress.connect({ host: target.host ?? 'localhost', port: target.port ?? 3306 }) } : {}),
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      ...(target.database !== undefined ? { database: target.database } : {}),
      ...(target.socketPath !== undefined ? { socketPath: target.socketPath } : {}),
      ...(target.ssl !== undefined ? { ssl: target.ssl } : {}),
      ...(target.charset !== undefined ? { charset: target.charset } : {}),
      connectionLimit: options.poolSize,
      connectTimeout: options.timeoutMs,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      timezone: 'Z',
      multipleStatements: false,
      // Each statement text is prepared once per connection and kept; upserts of
      // different row counts are different texts, and the server caps prepared
      // statements for all clients together (max_prepared_stmt_count, 16,382).
      maxPreparedStatements: 64,
    });
  }

  placeholder(_n: number, kind: ValueKind): string {
    // A string compared with a BIGINT or DECIMAL column is compared as a double,
    // which is inexact past 2^53: the cast makes the comparison exact.
    switch (kind) {
      case 'integer':
        return 'CAST(? AS DECIMAL(65,0))';
      case 'decimal':
        return 'CAST(? AS DECIMAL(65,30))';
      case 'timestamp':
      case 'timestamptz':
        return 'CAST(? AS DATETIME(6))';
      case 'date':
        return 'CAST(? AS DATE)';
      default:
        return '?';
    }
  }

  bindCursor(value: string | number | boolean, kind: ValueKind): unknown {
    if ((kind === 'timestamp' || kind === 'timestamptz') && typeof value === 'string') return isoToMysqlDatetime(value) ?? value;
    if (typeof value === 'boolean') return value ? 1 : 0;
    return value;
  }

  bindValue(value: unknown, column: ColumnInfo | undefined): unknown {
    // MySQL refuses ISO text with a T and an offset for DATETIME/TIMESTAMP; our sessions are UTC, so convert to UTC text.
    if (typeof value === 'string' && (column?.type === 'datetime' || column?.type === 'timestamp')) return isoToMysqlDatetime(value) ?? value;
    if (typeof value === 'boolean') return value ? 1 : 0;
    return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
  }

  async read(st: Statement, options: { readOnly: boolean }): Promise<ReadResult> {
    return this.withConnection(async (c) => {
      if (options.readOnly) await c.query('START TRANSACTION READ ONLY');
      const [rows, fields] = await c.execute<mysql.RowDataPacket[]>(st.sql, st.params as Values);
      if (options.readOnly) await c.query('COMMIT');
      return result(rows, fields);
    });
  }

  async write(statements: readonly Statement[]): Promise<number[]> {
    return this.withConnection(async (c) => {
      await c.beginTransaction();
      const counts: number[] = [];
      for (const st of statements) {
        const [r] = await c.execute<mysql.ResultSetHeader>(st.sql, st.params as Values);
        counts.push(r.affectedRows);
      }
      await c.commit();
      return counts;
    });
  }

  async columns(table: TableRef): Promise<ReadonlyMap<string, ColumnInfo>> {
    const [rows] = await this.pool.execute<mysql.RowDataPacket[]>(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
      [table.schema ?? null, table.name],
    );
    return new Map(rows.map((r) => [String(r['name']), { type: String(r['type']).toLowerCase(), array: false }]));
  }

  async hasPrivilege(table: TableRef, privilege: Privilege): Promise<boolean> {
    // EXPLAIN checks the statement's privileges without running it: nothing is inserted.
    const probe = privilege === 'SELECT' ? `SELECT 1 FROM ${quoteTable('mysql', table)} LIMIT 0` : `EXPLAIN INSERT INTO ${quoteTable('mysql', table)} () VALUES ()`;
    try {
      await this.pool.query(probe);
      return true;
    } catch (e) {
      if (DENIED.has(Number((e as { errno?: unknown }).errno))) return false;
      throw e;
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async withConnection<T>(work: (c: mysql.PoolConnection) => Promise<T>): Promise<T> {
    const c = await this.pool.getConnection();
    let broken = false;
    try {
      if (!this.prepared.has(c.connection)) {
        // Our own UTC session: TIMESTAMP values read and compared as UTC, whatever the server's zone.
        await c.query(`SET time_zone = '+00:00'`);
        this.prepared.add(c.connection);
      }
      return await work(c);
    } catch (e) {
      await c.rollback().catch(() => {
        broken = true;
      });
      throw e;
    } finally {
      if (broken) c.destroy();
      else c.release();
    }
  }
}

function result(rows: mysql.RowDataPacket[], fields: mysql.FieldPacket[]): ReadResult {
  const cols = fields.map((f) => ({ name: f.name, type: f.columnType ?? -1 }));
  const out = rows.map((row) => {
    const o: Record<string, unknown> = {};
    for (const f of cols) {
      const v: unknown = row[f.name];
      if (typeof v === 'string' && f.type === T.TIMESTAMP) o[f.name] = sqlTimestampToIso(v, true);
      else if (typeof v === 'string' && f.type === T.DATETIME) o[f.name] = sqlTimestampToIso(v);
      else o[f.name] = jsonValue(v);
    }
    return o;
  });
  return { rows: out, kinds: new Map(cols.map((f) => [f.name, KIND_BY_TYPE.get(f.type) ?? 'text'])) };
}
