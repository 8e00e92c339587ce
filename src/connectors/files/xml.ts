import type { Readable } from 'node:stream';
import { SaxesParser } from 'saxes';
import { decodeBytes, ENCODINGS, type Encoding } from './decode.js';
import { Chunks, shortReason, type ReadBatch, type ReadItem, type ReadPosition } from './reader.js';
import { xmlToValue } from './xml-value.js';

export interface XmlReadOptions {
  /** The repeating element that is one record, e.g. `item` (also matches a prefixed `ns:item`). */
  element: string;
  /** Fixed by the options; else the declaration's, else UTF-8. */
  encoding: Encoding | undefined;
  maxRecordBytes: number;
}

const BOM_LATIN1 = '\u00ef\u00bb\u00bf';
const FRAGMENT_NOISE = /unmatched closing tag|unexpected close tag|XML declaration must be at the start/;

/**
 * Reads up to `limit` records (elements named `element`) from `from.offset`,
 * streaming. Two parsers: the outer one runs over the raw bytes (as latin1,
 * so its positions are byte offsets) only to find where each record starts
 * and ends; each record's bytes are then decoded and parsed on their own
 * (xml-value.ts), so a record that cannot be read costs that record only.
 * A resumed read starts right after a record, inside the document, so it
 * parses as a fragment and ignores the end tags of the enclosing elements.
 */
export async function readXml(source: Readable, from: ReadPosition, limit: number, o: XmlReadOptions): Promise<ReadBatch> {
  const chunks = new Chunks(source);
  const items: ReadItem[] = [];
  let pos: ReadPosition = { ...from };
  // Always a fragment: a resumed read starts inside the document, and one broken record must not make the rest "a second root".
  const parser = new SaxesParser({ fragment: true, position: true });
  let encoding: Encoding = o.encoding ?? asEncoding(from.encoding) ?? 'utf-8';
  let base = from.offset; // the parser's position 0 in the file
  let window = ''; // the bytes from windowAt on, as latin1
  let windowAt = from.offset;
  let full = false;
  let stopped = false;
  let record: { start: number; line: number; depth: number; tooLarge: boolean } | undefined;
  const matches = (name: string) => name === o.element || name.endsWith(`:${o.element}`);

  parser.on('xmldecl', (decl) => {
    if (o.encoding || !decl.encoding) return;
    const declared = asEncoding(decl.encoding.toLowerCase());
    if (declared) {
      encoding = declared;
      pos = { ...pos, encoding: declared };
    } else {
      items.push({ line: from.line + parser.line, reason: `the declared encoding ${decl.encoding} is not supported (${ENCODINGS.join(', ')}); set the encoding option` });
      stopped = true;
    }
  });
  parser.on('opentagstart', (tag) => {
    if (full || stopped) return;
    if (record) record.depth++;
    else if (matches(tag.name)) {
      record = { start: base + parser.position - tag.name.length - 2, line: from.line + parser.line, depth: 1, tooLarge: false };
    }
  });
  parser.on('closetag', () => {
    if (full || stopped || !record) return;
    if (--record.depth > 0) return;
    const end = base + parser.position;
    const row = pos.row + 1;
    const line = record.line;
    let item: ReadItem;
    if (record.tooLarge || end - record.start > o.maxRecordBytes) item = { row, line, reason: `the element is over ${o.maxRecordBytes} bytes` };
    else {
      const text = decodeBytes(window.slice(record.start - windowAt, end - windowAt), encoding);
      const parsed = text === undefined ? { reason: `the element is not valid ${encoding}` } : xmlToValue(text);
      item = 'value' in parsed ? { row, line, value: parsed.value } : { row, line, reason: shortReason(parsed.reason) };
    }
    items.push(item);
    pos = { ...pos, offset: end, line: from.line + parser.line - 1, row };
    record = undefined;
    if (items.length >= limit) full = true;
  });
  parser.on('error', (e) => {
    // Inside a record the record's own parse has the last word. Outside, a resumed read sees end tags of
    // elements it did not see open, and a fragment parser frowns at the XML declaration: neither is a problem.
    if (full || stopped || record || FRAGMENT_NOISE.test(e.message)) return;
    items.push({ line: from.line + parser.line, reason: shortReason(`outside the records: ${e.message}`) });
  });

  let ended = false;
  try {
    while (!full && !stopped) {
      const chunk = await chunks.next();
      if (!chunk) {
        parser.close();
        if (record && !full && !stopped) {
          items.push({ row: pos.row + 1, line: record.line, reason: `the <${o.element}> element is not closed at the end of the file` });
          pos = { ...pos, row: pos.row + 1 };
        }
        ended = true;
        break;
      }
      let text = chunk.toString('latin1');
      if (base === 0 && windowAt === 0 && window === '' && text.startsWith(BOM_LATIN1)) {
        text = text.slice(3);
        base = windowAt = 3;
      }
      window += text;
      parser.write(text);
      if (record && !record.tooLarge && base + parser.position - record.start > o.maxRecordBytes) record.tooLarge = true;
      // Keep the open record's bytes, and a little before the parse point for a start tag split across chunks.
      const keep = record && !record.tooLarge ? record.start : base + parser.position - (o.element.length + 256);
      if (keep > windowAt) {
        window = window.slice(keep - windowAt);
        windowAt = keep;
      }
    }
  } finally {
    await chunks.close();
  }
  return { items, next: pos, eof: stopped || (ended && !full) };
}

function asEncoding(name: string | undefined): Encoding | undefined {
  if (name === 'utf8') return 'utf-8';
  return (ENCODINGS as readonly string[]).includes(name ?? '') ? (name as Encoding) : undefined;
}
