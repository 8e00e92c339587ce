import type { Readable } from 'node:stream';
import sjson from 'secure-json-parse';
import { decodeBytes, UTF8_BOM } from './decode.js';
import { Chunks, shortReason, type ReadBatch, type ReadItem, type ReadPosition } from './reader.js';

/**
 * Reads up to `limit` JSON Lines records from `from.offset`: one JSON value
 * per line, UTF-8, blank lines skipped. A line that is not valid UTF-8 or
 * not JSON, or longer than `maxRecordBytes` (skipped without being held), is
 * a bad record. `__proto__` and `constructor.prototype` keys are dropped, as
 * at the HTTP intake.
 */
export async function readJsonl(source: Readable, from: ReadPosition, limit: number, maxRecordBytes: number): Promise<ReadBatch> {
  const chunks = new Chunks(source);
  const items: ReadItem[] = [];
  let pos: ReadPosition = { ...from };
  let buf: Buffer = Buffer.alloc(0);
  let bufAt = from.offset;
  let eof = false;
  let oversized = false; // the current line passed maxRecordBytes: its bytes are being dropped

  const take = (line: Buffer, end: number, endsLine: boolean) => {
    const lineNo = pos.line + 1;
    const next = { offset: end, line: endsLine ? lineNo : pos.line };
    const text = line.toString('latin1').replace(/\r$/, '');
    if (oversized) {
      oversized = false;
      pos = { ...pos, ...next, row: pos.row + 1 };
      items.push({ row: pos.row, line: lineNo, reason: `the line is over ${maxRecordBytes} bytes` });
      return;
    }
    if (text.trim() === '') {
      pos = { ...pos, ...next };
      return;
    }
    const row = pos.row + 1;
    pos = { ...pos, ...next, row };
    const decoded = decodeBytes(text, 'utf-8');
    if (decoded === undefined) {
      items.push({ row, line: lineNo, reason: 'the line is not valid UTF-8' });
      return;
    }
    try {
      items.push({ row, line: lineNo, value: sjson.parse(decoded, null, { protoAction: 'remove', constructorAction: 'remove' }) as unknown });
    } catch (e) {
      items.push({ row, line: lineNo, reason: shortReason(`not JSON: ${e instanceof Error ? e.message : String(e)}`) });
    }
  };

  try {
    if (from.offset === 0) {
      for (let c = await chunks.next(); c; c = buf.length < UTF8_BOM.length ? await chunks.next() : undefined) buf = Buffer.concat([buf, c]);
      if (buf.subarray(0, UTF8_BOM.length).equals(UTF8_BOM)) {
        buf = buf.subarray(UTF8_BOM.length);
        bufAt = pos.offset = UTF8_BOM.length;
      }
    }
    while (items.length < limit) {
      const nl = buf.indexOf(0x0a);
      if (nl >= 0) {
        take(buf.subarray(0, nl), bufAt + nl + 1, true);
        buf = buf.subarray(nl + 1);
        bufAt += nl + 1;
        continue;
      }
      if (buf.length > maxRecordBytes) {
        oversized = true;
        bufAt += buf.length;
        buf = Buffer.alloc(0);
      }
      const chunk = await chunks.next();
      if (!chunk) {
        if (buf.length > 0 || oversized) take(buf, bufAt + buf.length, false);
        eof = true;
        break;
      }
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    }
  } finally {
    await chunks.close();
  }
  return { items, next: pos, eof };
}
