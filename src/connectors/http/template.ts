import { PermanentError } from '../types.js';

/**
 * URL path templates: `/orders/{external_id}/lines/{line.no}`. Each
 * placeholder is a dotted path into the action input; the value is
 * URL-encoded, so a value can never add a path segment or a query.
 */
const PLACEHOLDER = /\{([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\}/g;

/** The value at a dotted path (`a.b.0.c`), or undefined. */
export function valueAt(root: unknown, path: string): unknown {
  let v: unknown = root;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    // Own properties only: `{constructor}` must not reach Object.prototype.
    if (!Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * Fills every placeholder with `lookup(path)`. A missing, empty or
 * non-scalar value is a PermanentError: calling `/orders/` instead of
 * `/orders/42` would hit the wrong resource, and a retry cannot fix the data.
 */
export function fillPath(template: string, lookup: (path: string) => unknown): string {
  return template.replace(PLACEHOLDER, (_match, path: string) => {
    const v = lookup(path);
    if (v === undefined || v === null || v === '') {
      throw new PermanentError(`the path template ${template} needs {${path}}, which the input does not have`);
    }
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
      throw new PermanentError(`{${path}} in the path template ${template} must be a string, number or boolean`);
    }
    const s = String(v);
    // encodeURIComponent leaves dots alone, and URL parsing resolves `..` (even as %2E%2E).
    if (s === '.' || s === '..') throw new PermanentError(`{${path}} in the path template ${template} must not be "${s}"`);
    return encodeURIComponent(s);
  });
}

/**
 * `base` + `path` (+ a query in the path) as a URL. Unlike `new URL(path,
 * base)` this keeps the base's own path (`https://api/v2` + `/orders` →
 * `https://api/v2/orders`) and can never change the host.
 */
export function joinUrl(base: string, path: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new PermanentError(`${base} is not a URL`);
  }
  const q = path.indexOf('?');
  const pathPart = (q === -1 ? path : path.slice(0, q)).replace(/^\/+/, '');
  if (pathPart) url.pathname = `${url.pathname.replace(/\/+$/, '')}/${pathPart}`;
  if (q !== -1) {
    for (const [k, v] of new URLSearchParams(path.slice(q + 1))) url.searchParams.append(k, v);
  }
  return url;
}

/** Header records merged case-insensitively; later ones win. */
export function mergeHeaders(...sources: Array<Readonly<Record<string, string>> | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const source of sources) {
    if (!source) continue;
    for (const [name, value] of Object.entries(source)) out[name.toLowerCase()] = value;
  }
  return out;
}
