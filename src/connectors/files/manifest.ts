import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ConnectorManifest } from '../types.js';
import { ENCODINGS } from './decode.js';

/**
 * The contract the `sftp` and `folder` kinds share: the `drop` source's
 * options and the `write` action. Each kind adds only its config.
 */

const RelativePath = (description: string) => Type.String({ minLength: 1, maxLength: 1024, description });
const Encoding = Type.Union(ENCODINGS.map((e) => Type.Literal(e)), { description: 'text encoding of the file (default utf-8; a UTF-8 BOM is skipped)' });
const OneChar = (description: string) => Type.String({ minLength: 1, maxLength: 1, description });

export const CsvOptions = Type.Object(
  {
    delimiter: Type.Optional(OneChar('field delimiter (default ",")')),
    quote: Type.Optional(OneChar('quote character (default ")')),
    header: Type.Optional(Type.Boolean({ description: 'the first row names the columns (default true)' })),
    columns: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'column names to use; with header: true the header row is skipped' })),
    rename: Type.Optional(Type.Record(Type.String(), Type.String({ minLength: 1 }), { description: 'header name → field name, e.g. { "Artikel-Nr": "sku" }' })),
    trim: Type.Optional(Type.Boolean({ description: 'trim spaces around unquoted values (default false)' })),
    relax_quotes: Type.Optional(Type.Boolean({ description: 'a quote inside an unquoted field is a plain character rather than a bad row (default false)' })),
  },
  { additionalProperties: false },
);

export const DropOptions = Type.Object(
  {
    format: Type.Union([Type.Literal('csv'), Type.Literal('jsonl'), Type.Literal('xml')]),
    path: Type.Optional(RelativePath('the folder to watch, relative to the root (default: the root)')),
    pattern: Type.Optional(Type.String({ minLength: 1, description: 'file-name glob: *, ?, [abc], {csv,txt} (default *); names starting with . are never taken' })),
    encoding: Type.Optional(Encoding),
    csv: Type.Optional(CsvOptions),
    element: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9._:-]*$', description: 'xml: the repeating element that is one record' })),
    archive: Type.Optional(RelativePath('where a finished file goes (default <path>/archive)')),
    error: Type.Optional(RelativePath('where a file with bad rows goes, beside <file>.report.txt (default <path>/error)')),
    batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'records per poll (default 1000)' })),
    settle_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400, description: 'a file younger than this is not taken yet (default 2)' })),
    max_record_bytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, description: 'a longer record is a bad row (default 1 MiB)' })),
  },
  {
    additionalProperties: false,
    // Checked at load, not at the first poll: an xml source must say which element is a record.
    if: { properties: { format: { const: 'xml' } } },
    then: { required: ['element'] },
  },
);
export type DropOptions = Static<typeof DropOptions>;

export const WriteOptions = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description: 'file path template relative to the root, e.g. orders/{number}.json; {a.b} is filled from the input, {idempotency_key} with the delivery key',
    }),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('jsonl'), Type.Literal('csv')], { description: 'default json' })),
    encoding: Type.Optional(Encoding),
    csv: Type.Optional(
      Type.Object(
        { delimiter: Type.Optional(OneChar('default ","')), quote: Type.Optional(OneChar('default "')), header: Type.Optional(Type.Boolean({ description: 'default true' })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type WriteOptions = Static<typeof WriteOptions>;

export const WriteOutput = Type.Object(
  { path: Type.String({ description: 'the file written, relative to the root' }), bytes: Type.Integer() },
  { additionalProperties: false },
);

/** Both kinds' manifest: their own config, the shared source and action. */
export function fileManifest(kind: string, description: string, config: TSchema, secrets: readonly string[]): ConnectorManifest {
  return {
    kind,
    description,
    config,
    secrets,
    actions: {
      write: {
        description: 'Writes the input as one file (json, jsonl or csv): to a temporary name in the same folder, then renamed, so readers never see half a file.',
        input: Type.Unknown({ description: 'json: any value; jsonl: an array (one line each) or one value; csv: an object or an array of objects' }),
        options: WriteOptions,
        output: WriteOutput,
        // Same key and input give the same bytes at the same path; a repeat replaces the file with itself.
        idempotent: true,
      },
    },
    sources: {
      drop: {
        description: 'Takes files dropped in a folder, record by record (csv, jsonl, xml), streaming, then moves each to the archive (or, with bad rows, the error folder with a report).',
        mode: 'poll',
        options: DropOptions,
        cursor: '{ file: { name, size, mtimeMs, offset, line, row, columns, stats, done }, seen } — the file being read and where; size/mtime of the last listing',
      },
    },
  };
}
