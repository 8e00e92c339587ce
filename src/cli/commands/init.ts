import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { CliError, EXIT, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { print } from '../output.js';
import { SCAFFOLD } from '../scaffold.js';

const HELP = `Usage: causeway init [dir] [options]

Creates a project in dir (default .): causeway.yaml with a store that posts
orders, an ERP reached over HTTP and one flow between them; mappings/,
samples/ with an example payload, tests/ with flow tests, and a README.
It passes "causeway validate" and "causeway test" as created.

Options:
  --force         write into a folder that is not empty (files of the same
                  name are replaced, others are left alone)
  -h, --help      this help

Exit codes: 0 created, 1 the folder is not empty (without --force), 2 a bad option.
`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('init', argv, { force: { type: 'boolean' } }, { max: 1 });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const dir = resolve(positionals[0] ?? '.');
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new CliError(EXIT.problem, `${dir} exists and is not a folder`);
    // A fresh repository (only .git) counts as empty.
    const present = readdirSync(dir).filter((n) => n !== '.git');
    if (present.length > 0 && !values.force) {
      throw new CliError(EXIT.problem, `${dir} is not empty (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', …' : ''}); use --force to write into it anyway`);
    }
  }
  const written: string[] = [];
  for (const [name, text] of Object.entries(SCAFFOLD)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(name);
  }
  const shown = relative(process.cwd(), dir) || '.';
  print(`Created a Causeway project in ${shown}:`);
  for (const name of written) print(`  ${name}`);
  print(`
Next:
${shown === '.' ? '' : `  cd ${shown}\n`}  causeway validate                   # check it
  causeway test                       # run its flow tests, offline
  causeway plan samples/store-order.json --system store --topic orders
  causeway start                      # run the hub on it`);
  return EXIT.ok;
}

export const init: Command = { name: 'init', help: HELP, run };
