import { valueAt } from './http/template.js';
import { PermanentError } from './types.js';

/**
 * Text templates for connector options: `Order {{ number }} for {{ customer.name }}`.
 * A placeholder is a dotted path into the data and nothing else: no
 * expressions, no helpers, no partials, so a template from causeway.yaml can
 * never run code. Paths read own properties only (see `valueAt`).
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\s*\}\}/g;

export interface RenderOptions {
  /** What the template is, for error messages (`the routing_key template`). */
  what: string;
  /** `empty` renders a missing value as ''; `error` refuses it (a routing key must not lose a part). */
  missing: 'empty' | 'error';
  /** Applied to each filled-in value, never to the template's own text (HTML escaping). */
  escape?: (value: string) => string;
  /** Refuses a filled-in value: returns why, or undefined when it is fine (e.g. a `/` in an MQTT topic level). */
  refuse?: (value: string) => string | undefined;
}

/** Scalars as text, objects and arrays as JSON, null and undefined as undefined. */
function asText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Fills every `{{ path }}`; a PermanentError when a value is missing (in `error` mode) or refused: a retry cannot fix the data. */
export function renderTemplate(template: string, data: unknown, options: RenderOptions): string {
  return template.replace(PLACEHOLDER, (_match, path: string) => {
    const text = asText(valueAt(data, path));
    if (text === undefined || text === '') {
      if (options.missing === 'error') throw new PermanentError(`${options.what} needs {{ ${path} }}, which the input does not have`);
      return '';
    }
    const why = options.refuse?.(text);
    if (why !== undefined) throw new PermanentError(`{{ ${path} }} in ${options.what} ${why}`);
    return options.escape ? options.escape(text) : text;
  });
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}
