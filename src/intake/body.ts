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
 * own code.
 */
export function parseJsonBody(raw: Buffer, options: { maxDepth: number } = { maxDepth: 64 }): unknown {
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
    return secureJsonParse.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
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

/**
 * True for `application/json` and `application/*+json`, with parameters; a
 * charset other than UTF-8 is not accepted (we would misread the bytes).
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type = '', ...params] = header.toLowerCase().split(';').map((s) => s.trim());
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) return false;
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim().replace(/^"|"$/g, ''));
    if (k === 'charset' && v !== 'utf-8' && v !== 'utf8') return false;
  }
  return true;
}
