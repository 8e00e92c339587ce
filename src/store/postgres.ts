import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Db, Param, Queryable, RunResult, TxOptions } from './db.js';

// BIGINT columns hold epoch milliseconds and sequence ids, all well below 2^53.
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface PostgresOptions {
  url: string;
  /** A schema to use (created when missing); tests use one per file. */
  schema?: string;
  poolSize?: number;
}

/** `?` → `$1, $2, …`. Our SQL never contains a literal `?`. */
function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * PostgreSQL through node-postgres. Every statement is prepared by name on
 * each pooled connection the first time it runs there (the name is a hash of
 * its text), so the server plans it once.
 */
export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  readonly description: string;
  readonly pool: pg.Pool;
  private readonly texts = new Map<string, { name: string; text: string }>();
  private readonly schema: string | undefined;
  private readonly direct: Queryable;

  constructor(options: PostgresOptions) {
    const url = new URL(options.url);
    const schema = options.schema ?? url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name: ${schema}`);
    this.pool = new pg.Pool({
      connectionString: url.toString(),
      max: options.poolSize ?? 10,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    // An idle client losing its connection must not crash the process.
    this.pool.on('error', () => undefined);
    this.description = `postgres://${url.host}${url.pathname}${schema ? ` (schema ${schema})` : ''}`;
    this.schema = schema;
    this.direct = this.queryable(this.pool);
  }

  /**
   * An advisory-lock key for `name` in this hub's schema. Advisory locks are
   * per database, not per schema, so two hubs in two schemas of one database
   * (tests, staging next to production) must not share a key.
   */
  lockKey(name: string): number {
    return createHash('sha256').update(`${this.schema ?? 'public'}:${name}`).digest().readInt32BE(0);
  }

  /** Creates the configured schema if it does not exist yet. */
  async ensureSchema(): Promise<void> {
    if (!this.schema) return;
    const c = await this.pool.connect();
    try {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
    } finally {
      c.release();
    }
  }

  private statement(sql: string): { name: string; text: string } {
    let st = this.texts.get(sql);
    if (!st) {
      const text = numberPlaceholders(sql);
      st = { name: `cw_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`, text };
      this.texts.set(sql, st);
    }
    return st;
  }

  private queryable(client: pg.Pool | pg.PoolClient): Queryable {
    const q = async (sql: string, params: readonly Param[]): Promise<pg.QueryResult> => {
      const st = this.statement(sql);
      return client.query({ name: st.name, text: st.text, values: params as Param[] }) as Promise<pg.QueryResult>;
    };
    return {
      dialect: 'postgres',
      all: async <T>(sql: string, params: readonly Param[] = []) => (await q(sql, params)).rows as T[],
      get: async <T>(sql: string, params: readonly Param[] = []) => (await q(sql, params)).rows[0] as T | undefined,
      run: async (sql: string, params: readonly Param[] = []): Promise<RunResult> => ({
        changes: (await q(sql, params)).rowCount ?? 0,
      }),
    };
  }


  all<T>(sql: string, params: readonly Param[] = []): Promise<T[]> {
    return this.direct.all<T>(sql, params);
  }

  get<T>(sql: string, params: readonly Param[] = []): Promise<T | undefined> {
    return this.direct.get<T>(sql, params);
  }

  run(sql: string, params: readonly Param[] = []): Promise<RunResult> {
    return this.direct.run(sql, params);
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>, _options?: TxOptions): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(this.queryable(client));
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
