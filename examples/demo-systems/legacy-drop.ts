/**
 * The legacy warehouse has no server: its old ERP exports stock as a CSV file
 * into a drop folder (LEGACY_DROP_DIR), `;`-separated and in Windows-1252.
 * This writes one such export the way a well-behaved sender does (under a
 * dot-name, then one rename), with one malformed row so the hub's error
 * folder and its report have something to show.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import iconv from 'iconv-lite';

export interface StockExport {
  /** The file's name in the drop folder. */
  file: string;
  /** Where the hub moves it when done: `error/` (it has a bad row), beside `<file>.report.txt`. */
  archiveDir: string;
  errorDir: string;
  /** What the store should end up with for each good row: available = on hand − reserved. */
  available: Record<string, number>;
  /** The malformed row's line number (1 is the header). */
  badLine: number;
}

const two = (n: number) => String(n).padStart(2, '0');

/** `24.11.2026 06:00`, the way the old ERP writes its timestamps (UTC). */
function erpTime(d: Date): string {
  return `${two(d.getUTCDate())}.${two(d.getUTCMonth() + 1)}.${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
}

export function dropStockExport(dir: string, seed: number, now = new Date()): StockExport {
  mkdirSync(dir, { recursive: true });
  // Quantities vary with the run's seed: the hub keeps its records between runs, and an unchanged level is not sent again.
  const n = (seed / 10) % 50;
  const rows: Array<[string, string, number, number, string]> = [
    ['LAMP-OAK', 'NORD', 10 + n, 3, 'Tischlampe „Eiche“, Größe M'],
    ['RUG-WOOL', 'NORD', 4 + n, 0, 'Wollteppich 160×230'],
    ['CHAIR-BEECH', 'SÜD', 20 + n, 5, 'Stuhl Buche – natur'],
  ];
  const lines = ['Artikel-Nr;Lager;Bestand;Reserviert;Bezeichnung;Stand'];
  for (const [sku, location, onHand, reserved, description] of rows) lines.push(`${sku};${location};${onHand};${reserved};${description};${erpTime(now)}`);
  lines.splice(3, 0, 'VASE-BLUE;NORD;7'); // cut short by the old ERP: three fields, not six
  const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 15);
  const file = `BESTAND_${stamp}_${seed}.csv`;
  const bytes = iconv.encode(`${lines.join('\r\n')}\r\n`, 'win1252');
  writeFileSync(join(dir, `.${file}`), bytes);
  renameSync(join(dir, `.${file}`), join(dir, file));
  return {
    file,
    archiveDir: join(dir, 'archive'),
    errorDir: join(dir, 'error'),
    available: Object.fromEntries(rows.map(([sku, , onHand, reserved]) => [sku, onHand - reserved])),
    badLine: 4,
  };
}
