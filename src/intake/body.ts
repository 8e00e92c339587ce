import secureJsonParse from 'secure-json-parse';
import { CausewayError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The nesting depth of JSON text, found by one linear pass over the bytes
 * (brackets inside strings do not count). Run before parsing so a body
 * nested thousands deep never reaches the parser or later recursive code.
 */
export function jsonDepthExceeds(raw: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/**
 * Parses a JSON body from its raw bytes: valid UTF-8 (a BOM is dropped),
 * nesting within `maxDepth`, no `__proto__` or `constructor.prototype` keys
 * (prototype pollution), syntactically valid. Every failure is a 400 with its
 * own code. Returns the decoded text too, so the caller does not decode the
 * bytes a second time.
 */
export function decodeJsonBody(raw: Buffer, options: { maxDepth: number } = { maxDepth: 64 }): { text: string; value: unknown } {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new CausewayError('invalid_utf8', 'the body is not valid UTF-8');
  }
  if (text.trim().length === 0) throw new CausewayError('invalid_json', 'the body is empty');
  if (jsonDepthExceeds(raw, options.maxDepth)) {
    throw new CausewayError('too_deeply_nested', `JSON is nested deeper than ${options.maxDepth} levels`);
  }
  try {
    // secure-json-parse is JSON.parse plus a scan for __proto__ / constructor keys (spelled out or
    // with \u escapes); text that has neither word nor any \u escape cannot have one.
    const suspect = text.includes('\\u') || text.includes('__proto__') || text.includes('constructor');
    const value = suspect ? secureJsonParse.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }) : JSON.parse(text);
    return { text, value };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/prototype/i.test(message)) {
      throw new CausewayError('forbidden_key', 'the body contains a __proto__ or constructor.prototype key', {
        details: [{ message: 'keys that could pollute object prototypes are refused' }],
      });
    }
    throw new CausewayError('invalid_json', `the body is not valid JSON: ${message}`);
  }
}

/** {@link decodeJsonBody}, the parsed value only. */
export function parseJsonBody(raw: Buffer, options: { maxDepth: number } = { maxDepth: 64 }): unknown {
  return decodeJsonBody(raw, options).value;
}

/**
 * True for `application/json` and `application/*+json`, with parameters; a
 * charset other than UTF-8 is not accepted (we would misread the bytes).
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  // The common case, without splitting or allocating.
  if (header === 'application/json' || header === 'application/json; charset=utf-8') return true;
  const [type = '', ...params] = header.toLowerCase().split(';').map((s) => s.trim());
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) return false;
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (k === 'charset' && v !== 'utf-8' && v !== 'utf8') return false;
  }
  return true;
}
