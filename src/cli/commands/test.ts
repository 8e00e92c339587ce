import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { CliError, EXIT, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { readTestFile, type TestFile } from '../flow-tests/format.js';
import { runCase, type CaseResult } from '../flow-tests/run.js';
import { paint, plural, print, printErr, printJson } from '../output.js';
import { loadOffline, placeholderNote, PROJECT_HELP, projectDir } from '../project.js';

const HELP = `Usage: causeway test [files…] [options]

Runs the project's flow tests offline — no hub, no database, no network:
every YAML file under tests/ (or the files given). Two kinds of case:

  - name: a store order becomes a customer and an order
    inbound: { system: store, topic: orders, payload: samples/store-order.json }
    expect:
      records:                       # these records, with at least these fields
        - { entity: order, external_id: "1001", data: { total: 5000 } }
      deliveries:                    # optional: what the flows would send for them
        - { flow: order-to-erp, request: { method: PUT, path: /sales-orders/1001 } }

  - name: an order becomes a sales order
    flow: order-to-erp
    record: { id: ord_1, data: { number: "1001", … } }   # or data: samples/order.json
    expect:
      input: { … }                   # the exact action input, and/or
      request: { method: PUT, path: /sales-orders/1001, body: { … } }   # http, webhook

expect may also be { error: "text" } (the message or delivery fails with it)
or, for a flow case, { skipped: true } (the filter, on or origin rule skips it).
A failure prints each differing path with the expected and the actual value.

Options:
${PROJECT_HELP}
  --json          results as JSON
  -h, --help      this help

Unset \${env:…} variables stand in as placeholders (nothing is sent).
Exit codes: 0 every test passed, 1 a test failed, a file does not parse, or
there are no tests; 2 a bad option.
`;

function testFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (/\.ya?ml$/.test(name)) out.push(path);
  }
  return out;
}

interface FileResult {
  file: string;
  problems: TestFile['problems'];
  cases: CaseResult[];
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('test', argv, { project: { type: 'string' }, json: { type: 'boolean' } }, { max: 1000 });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const dir = projectDir(values.project);
  const { project, placeholders } = loadOffline(dir);
  const note = placeholderNote(placeholders);
  if (note && !values.json) printErr(note);
  const paths = positionals.length ? positionals.map((p) => resolve(p)) : testFiles(join(project.dir, 'tests'));
  if (paths.length === 0) throw new CliError(EXIT.problem, `no tests: put YAML test files in ${relative(process.cwd(), join(project.dir, 'tests')) || 'tests'}/ (see causeway test --help)`);

  const results: FileResult[] = [];
  for (const path of paths) {
    const shown = relative(process.cwd(), path) || path;
    const file = readTestFile(path, shown);
    const cases: CaseResult[] = [];
    for (const c of file.cases) cases.push(await runCase(project, c));
    results.push({ file: shown, problems: file.problems, cases });
  }
  const passed = results.reduce((n, f) => n + f.cases.filter((c) => c.ok).length, 0);
  const failed = results.reduce((n, f) => n + f.cases.filter((c) => !c.ok).length, 0);
  const broken = results.filter((f) => f.problems.length > 0);
  if (values.json) {
    printJson({ passed, failed, files_with_problems: broken.length, files: results });
  } else {
    for (const f of results) {
      print(f.file);
      for (const p of f.problems) print(`  ${paint(process.stdout, 'red', '✗')} ${f.file}${p.line ? `:${p.line}` : ''}: ${p.message}`);
      for (const c of f.cases) {
        if (c.ok) {
          print(`  ${paint(process.stdout, 'green', '✓')} ${c.name}`);
          continue;
        }
        print(`  ${paint(process.stdout, 'red', '✗')} ${c.name}${c.line ? paint(process.stdout, 'dim', ` (${f.file}:${c.line})`) : ''}`);
        for (const line of c.failures) print(`      ${line}`);
      }
    }
    const parts = [`${passed} passed`, `${failed} failed`];
    if (broken.length) parts.push(`${plural(broken.length, 'file')} with problems (${broken.map((f) => f.file).join(', ')})`);
    print(`\n${parts.join(', ')}`);
  }
  return failed > 0 || broken.length > 0 || passed === 0 ? EXIT.problem : EXIT.ok;
}

export const test: Command = { name: 'test', help: HELP, run };
