import type { ActionContext, ActionResult } from '../types.js';
import { writeAtomic } from './atomic.js';
import { encodeText } from './decode.js';
import type { FileSystem } from './fs.js';
import type { WriteOptions } from './manifest.js';
import { relativePath } from './paths.js';
import { renderCsv, renderJson, renderJsonl } from './render.js';
import { fillTemplate } from './template.js';

/**
 * The `write` action: renders the input, fills the path template and writes
 * the file atomically. Put `{idempotency_key}` (or a field that identifies
 * the record version) in the path and a repeated attempt rewrites the same
 * file with the same bytes: harmless.
 */
export async function writeFile(fs: FileSystem, input: unknown, o: WriteOptions, ctx: Pick<ActionContext, 'idempotencyKey' | 'system'>, where: string): Promise<ActionResult> {
  const path = relativePath(fillTemplate(o.path, input, { idempotency_key: ctx.idempotencyKey, system: ctx.system }));
  const format = o.format ?? 'json';
  const text =
    format === 'csv'
      ? renderCsv(input, { delimiter: o.csv?.delimiter ?? ',', quote: o.csv?.quote ?? '"', header: o.csv?.header ?? true })
      : format === 'jsonl'
        ? renderJsonl(input)
        : renderJson(input);
  const data = encodeText(text, o.encoding ?? 'utf-8');
  await writeAtomic(fs, path, data);
  return { output: { path, bytes: data.length }, summary: { request: `write ${where}/${path}`, response: `${data.length} bytes` } };
}
