/**
 * node --import tsx bench/csv-intake.ts — a large CSV through the `folder`
 * connector's `drop` source into the inbox and on to canonical records,
 * against a baseline measured in the same run on the same file: csv-parse
 * alone, streaming it and counting rows (absolute numbers drift; ratios do
 * not).
 *
 * Each phase runs in its own process so its peak RSS (maxRSS) is its own:
 *   baseline   csv-parse over the file, rows counted
 *   intake     a hub (SQLite) with the drop source and the normalizer off,
 *              its source runner given room for the whole file: rows into
 *              the inbox, cursor commits, the file archived
 *   records    the same with the normalizer on (the hub as it runs):
 *              until every row is a canonical inventory level
 *
 * Options (env): BENCH_ROWS (default 100000), BENCH_BATCH (rows per poll, default 1000),
 * BENCH_SKIP_RECORDS=1 to skip the slowest phase.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import pino from 'pino';
import { Hub } from '../src/hub.js';
import { SourceRunner } from '../src/sources/runner.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 100_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 1000);

interface PhaseResult {
  rows: number;
  seconds: number;
  maxRssMb: number;
}

const MAPPING = `{
  "entity": "inventory_level",
  "external_id": record.sku & "@" & record.location,
  "data": { "sku": record.sku, "location": record.location, "on_hand": $number(record.on_hand), "attributes": { "name": record.name } }
}`;

function project(dir: string): string {
  return `
version: 1
systems:
  erp:
    kind: folder
    config: { path: ${dir} }
    topics:
      stock: { mapping: '${MAPPING.replace(/\n\s*/g, ' ')}' }
    sources:
      stock-drop:
        type: drop
        topic: stock
        every_seconds: 0.05
        options: { path: in, format: csv, encoding: windows-1252, batch: ${BATCH}, settle_seconds: 0, csv: { delimiter: ";" } }
`;
}

async function writeCsv(path: string): Promise<void> {
  const out = createWriteStream(path);
  out.write('sku;location;on_hand;name\r\n');
  for (let i = 1; i <= ROWS; i++) {
    // latin1 bytes for é and ü: the same bytes in Windows-1252.
    if (!out.write(`SKU-${i};${i % 3 ? 'Lager Nord' : '"Lager; Süd"'};${i % 500};Tasse groß é ü ${i}\r\n`, 'latin1')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function baseline(file: string): Promise<number> {
  let rows = 0;
  const parser = createReadStream(file).pipe(parse({ delimiter: ';', encoding: 'latin1', from_line: 2 }));
  for await (const _ of parser) rows++;
  return rows;
}

/** Runs a hub on a fresh SQLite file until the drop is archived (and, with `records`, normalized). */
async function hubPhase(dir: string, records: boolean): Promise<number> {
  const projectDir = join(dir, 'project');
  mkdirSync(projectDir, { recursive: true });
  writeFileSync(join(projectDir, 'causeway.yaml'), project(dir));
  const hub = new Hub({ projectDir, databaseUrl: `sqlite:${join(dir, `hub-${records ? 'records' : 'intake'}.db`)}`, log: pino({ level: 'warn' }), env: {}, deliver: false, role: records ? 'all' : 'api' });
  await hub.init();
  // Without the normalizer the hub's own runner would stop at its backlog limit; this one has room for the file.
  const runner = records ? undefined : new SourceRunner({ db: hub.db, project: () => hub.project, log: hub.log, onCommitted: () => undefined, maxBacklog: Number.MAX_SAFE_INTEGER });
  runner?.start();
  const file = join(dir, 'in', 'stock.csv');
  while (existsSync(file)) await new Promise((r) => setTimeout(r, 20));
  await runner?.stop();
  if (records) {
    for (;;) {
      const r = await hub.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM inbox WHERE status = 'received'`);
      if (Number(r?.n) === 0) break;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  const table = records ? `records WHERE entity = 'inventory_level'` : 'inbox';
  const n = Number((await hub.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))?.n);
  await hub.stop();
  return n;
}

async function child(phase: string, dir: string): Promise<PhaseResult> {
  const me = fileURLToPath(import.meta.url);
  const proc = spawn(process.execPath, ['--import', 'tsx', me, phase, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number];
  if (code !== 0) throw new Error(`${phase} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as PhaseResult;
}

async function runPhase(phase: string, dir: string): Promise<void> {
  const start = performance.now();
  let rows: number;
  if (phase === 'baseline') rows = await baseline(join(dir, 'stock.csv'));
  else {
    mkdirSync(join(dir, 'in'), { recursive: true });
    execFileSync('cp', [join(dir, 'stock.csv'), join(dir, 'in', 'stock.csv')]);
    const copied = performance.now();
    rows = await hubPhase(dir, phase === 'records');
    const seconds = (performance.now() - copied) / 1000;
    console.log(JSON.stringify({ rows, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
    return;
  }
  console.log(JSON.stringify({ rows, seconds: (performance.now() - start) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

const [phase, phaseDir] = process.argv.slice(2);
if (phase && phaseDir) {
  await runPhase(phase, phaseDir);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'causeway-csv-bench-'));
  try {
    await writeCsv(join(dir, 'stock.csv'));
    console.log(`csv intake: ${ROWS} rows, ${BATCH} per poll, Windows-1252, ";"\n`);
    const line = (name: string, r: PhaseResult) =>
      console.log(`${name.padEnd(34)} ${String(r.rows).padStart(8)} rows  ${(r.rows / r.seconds).toFixed(0).padStart(8)} rows/s  ${r.seconds.toFixed(1).padStart(6)} s  peak RSS ${r.maxRssMb.toFixed(0).padStart(4)} MB`);
    const base = await child('baseline', dir);
    line('baseline (csv-parse, count rows)', base);
    const intake = await child('intake', dir);
    line('folder drop -> inbox (hub, SQLite)', intake);
    if (intake.rows !== ROWS) console.log(`  <-- ${ROWS - intake.rows} ROWS MISSING from the inbox`);
    let records: PhaseResult | undefined;
    if (process.env['BENCH_SKIP_RECORDS'] !== '1') {
      records = await child('records', dir);
      line('folder drop -> records (hub, SQLite)', records);
      if (records.rows !== ROWS) console.log(`  <-- ${ROWS - records.rows} RECORDS MISSING`);
    }
    const rate = (r: PhaseResult) => r.rows / r.seconds;
    console.log(`\nratio to baseline: inbox ${(rate(intake) / rate(base)).toFixed(2)}${records ? `, records ${(rate(records) / rate(base)).toFixed(3)}` : ''}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
