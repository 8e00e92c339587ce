import { isEntityName } from '../canonical/index.js';
import { maskLogObject, maskText } from './log-mask.js';
import { maskPersonalData } from './mask.js';

/**
 * An API answer as a caller without `records.read_personal` may see it
 * (viewers, system keys). Applied by the server to every route marked
 * `personalData`, after the handler, so no route can forget it:
 *
 * - a canonical record (`{ entity, data }`, and its `history[].data`) has
 *   its marked fields masked exactly, from the schema;
 * - everything else — raw inbox bodies, attempt requests and responses,
 *   error texts — goes through the log masker (personal keys and email
 *   addresses anywhere), and a string holding a JSON document is parsed
 *   and masked the same way, so a raw payload's names are masked too.
 */
export function maskResponse(payload: unknown): unknown {
  // The log masker last, once over the whole answer: personal keys and email addresses anywhere.
  return maskLogObject({ payload: walk(payload, 0) })['payload'];
}

/** Canonical records masked from their schema; JSON documents inside strings opened up to be masked too. */
function walk(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return openJson(value, depth);
  if (value === null || typeof value !== 'object' || depth > 16) return value;
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
  const o = value as Record<string, unknown>;
  const entity = typeof o['entity'] === 'string' && isEntityName(o['entity']) ? o['entity'] : undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (entity && k === 'data' && isPlainObject(v)) out[k] = walk(maskPersonalData(entity, v), depth + 1);
    else if (entity && k === 'history' && Array.isArray(v)) {
      out[k] = v.map((h) => walk(isPlainObject(h) && isPlainObject(h['data']) ? { ...h, data: maskPersonalData(entity, h['data']) } : h, depth + 1));
    } else out[k] = walk(v, depth + 1);
  }
  return out;
}

/** A raw body stored as text: masked as the document it is, so names in it are masked too, not only emails. */
function openJson(s: string, depth: number): string {
  const t = s.trimStart();
  if ((t.startsWith('{') || t.startsWith('[')) && s.length <= 1_000_000) {
    try {
      const masked = maskLogObject({ doc: walk(JSON.parse(s) as unknown, depth + 1) })['doc'];
      return JSON.stringify(masked);
    } catch {
      // not JSON after all: the log masker treats it as text
    }
  }
  return maskText(s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
