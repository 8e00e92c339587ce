import { Type, type Static } from '@sinclair/typebox';
import type { ConnectorManifest } from '../types.js';
import { IDENTIFIER, TABLE_NAME } from './identifiers.js';

/**
 * The `sql` connector's contract. Every table and column name is checked
 * against a strict identifier pattern here, so a hostile name is refused
 * when the project loads, long before it could reach a statement.
 */

const Identifier = Type.String({ pattern: IDENTIFIER.source, description: 'a column name: letters, digits and _, not starting with a digit' });
const Table = Type.String({ pattern: TABLE_NAME.source, description: 'a table, optionally schema-qualified (schema.table); used exactly as written (quoted)' });

export const SqlConfig = Type.Object(
  {
    url: Type.String({
      pattern: '^((postgres|postgresql|mysql|mariadb)://\\S+|sqlite:\\S+)$',
      description: 'postgres://user:password@host:5432/db, mysql://user:password@host:3306/db (or mariadb://), sqlite:/path/to/file.db',
    }),
    pool_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'connections per system (default 5; SQLite uses one)' })),
    timeout_ms: Type.Optional(
      Type.Integer({ minimum: 100, maximum: 600_000, description: 'connect timeout; on PostgreSQL also statement_timeout; on SQLite the busy timeout (default 10000)' }),
    ),
    check_tables: Type.Optional(
      Type.Object(
        {
          select: Type.Optional(Type.Array(Table, { description: 'tables `check` verifies the SELECT privilege on' })),
          insert: Type.Optional(Type.Array(Table, { description: 'tables `check` verifies the INSERT privilege on' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SqlConfig = Static<typeof SqlConfig>;

export const DEFAULT_CURSOR = ['updated_at', 'id'] as const;
export const DEFAULT_BATCH = 500;

export const TableSourceOptions = Type.Object(
  {
    table: Type.Optional(Table),
    query: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: '^\\s*(?:[Ss][Ee][Ll][Ee][Cc][Tt]|[Ww][Ii][Tt][Hh])\\s[^;]*;?\\s*$',
        description: 'instead of table: one SELECT (or WITH … SELECT) statement whose rows have the cursor columns; no ";" inside',
      }),
    ),
    cursor: Type.Optional(
      Type.Array(Identifier, {
        minItems: 1,
        maxItems: 4,
        uniqueItems: true,
        default: [...DEFAULT_CURSOR],
        description: 'columns of the keyset, together unique per row, the last one usually the primary key (default [updated_at, id])',
      }),
    ),
    batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: DEFAULT_BATCH, description: 'rows per poll (default 500)' })),
  },
  {
    additionalProperties: false,
    // Exactly one of table and query: what to read must not be guessed.
    oneOf: [{ required: ['table'] }, { required: ['query'] }],
  },
);
export type TableSourceOptions = Static<typeof TableSourceOptions>;

export const UpsertOptions = Type.Object(
  {
    table: Table,
    key: Type.Array(Identifier, {
      minItems: 1,
      uniqueItems: true,
      description: 'the columns of the primary key or unique constraint a row is matched on',
    }),
    unknown_columns: Type.Optional(
      Type.Union([Type.Literal('error'), Type.Literal('ignore')], {
        default: 'error',
        description: 'what to do with input fields the table has no column for: refuse the delivery (default) or leave them out',
      }),
    ),
  },
  { additionalProperties: false },
);
export type UpsertOptions = Static<typeof UpsertOptions>;

const Row = Type.Record(Type.String(), Type.Unknown(), { description: 'column → value' });

export const UpsertInput = Type.Union([Type.Object({ rows: Type.Array(Row, { minItems: 1, maxItems: 10_000 }) }, { additionalProperties: false }), Row], {
  description: 'one row, or { rows: [...] } for several written in one transaction',
});

export const UpsertOutput = Type.Object({ rows: Type.Integer({ description: 'rows written (inserted or updated)' }) }, { additionalProperties: false });

export const manifest: ConnectorManifest = {
  kind: 'sql',
  description: 'Reads changed rows from, and upserts rows into, PostgreSQL, MySQL/MariaDB and SQLite tables.',
  config: SqlConfig,
  // The password lives inside the URL.
  secrets: ['url'],
  actions: {
    upsert: {
      description: 'Inserts or updates rows by their key, all in one transaction (ON CONFLICT / ON DUPLICATE KEY UPDATE).',
      input: UpsertInput,
      options: UpsertOptions,
      output: UpsertOutput,
      // Writing the same row twice leaves the table as after the first write.
      idempotent: true,
    },
  },
  sources: {
    table: {
      description: 'Polls a table (or a SELECT) for rows past the cursor, in keyset order: no gaps and no repeats even when many rows share a timestamp.',
      mode: 'poll',
      options: TableSourceOptions,
      cursor: '{ columns, values, kinds }: the values of the cursor columns in the last row delivered (timestamps as ISO strings, exact to the microsecond)',
    },
  },
};
