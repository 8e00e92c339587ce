import iconv from 'iconv-lite';

/**
 * Text encodings of the files ERPs drop. All are ASCII-compatible: every
 * byte below 0x80 is the ASCII character, and no multi-byte sequence
 * contains one. That lets the readers find delimiters, quotes, newlines and
 * tags on the raw bytes (held as a latin1 string, one char per byte, so
 * positions are byte offsets) and decode only the values afterwards, and it
 * is why UTF-16 is not offered.
 */
export const ENCODINGS = ['utf-8', 'latin1', 'iso-8859-1', 'iso-8859-15', 'windows-1252'] as const;
export type Encoding = (typeof ENCODINGS)[number];

const NON_ASCII = /[\x80-\xff]/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes bytes held one per char in `raw` (a latin1 string) as `encoding`.
 * Returns undefined when they are not valid text in that encoding: a broken
 * UTF-8 sequence, or a byte Windows-1252 leaves undefined (0x81, 0x8D, 0x8F,
 * 0x90, 0x9D), rather than slipping a U+FFFD into a record.
 */
export function decodeBytes(raw: string, encoding: Encoding): string | undefined {
  if (!NON_ASCII.test(raw)) return raw; // the common case: plain ASCII reads the same in all of them
  switch (encoding) {
    case 'latin1':
    case 'iso-8859-1':
      return raw;
    case 'utf-8':
      try {
        return utf8.decode(Buffer.from(raw, 'latin1'));
      } catch {
        return undefined;
      }
    default: {
      const text = iconv.decode(Buffer.from(raw, 'latin1'), encoding);
      return text.includes('\ufffd') ? undefined : text;
    }
  }
}

/** Encodes text for writing; characters the encoding lacks become `?` (iconv-lite's choice), so prefer UTF-8. */
export function encodeText(text: string, encoding: Encoding): Buffer {
  return encoding === 'utf-8' ? Buffer.from(text, 'utf8') : iconv.encode(text, encoding);
}

/** The UTF-8 byte order mark, which Excel and many Windows tools put first. */
export const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
