import { relative } from 'node:path';
import pino from 'pino';
import { ConfigError, loadProject, type ConfigProblem, type Project } from '../../config/load.js';
import { closeConnectors, getConnector } from '../../connectors/registry.js';
import type { CheckResult } from '../../connectors/types.js';
import { errorMessage } from '../../errors.js';
import type { Mapping } from '../../mapping/index.js';
import { openSecretsOffline } from '../../secrets/offline.js';
import { configSecretNames } from '../../secrets/refs.js';
import type { OpenedSystem } from '../../secrets/runtime.js';
import { EXIT, intOption, parseCommand } from '../args.js';
import type { Command } from '../command.js';
import { paint, plural, print, printJson, table } from '../output.js';
import { formatProblem, PROJECT_HELP, projectDir } from '../project.js';

const HELP = `Usage: causeway validate [options]

Loads and checks the project: the schema of causeway.yaml, references
between systems, flows and actions, every JSONata mapping compiles, every
\${env:…} resolves, every \${secret:…} sits in a connector's secret field.
Prints every problem at once, each with its file and line, and which
mappings run compiled to JavaScript (the rest run in the JSONata
interpreter, with the same results, and the reason is shown).

Options:
${PROJECT_HELP}
  --check-connections   also try each system's reachability and credentials
  --timeout SECONDS     per system for --check-connections (default 10)
  --json          the result as JSON: { valid, problems, mappings, connections }
  -h, --help      this help

Exit codes: 0 valid (and every connection works), 1 a problem or a failed
connection, 2 a bad option.
`;

export interface ConnectionResult {
  system: string;
  kind: string;
  ok: boolean;
  /** reachable, wrong_credentials, missing_permission, unreachable, misconfigured, timeout, or not_checked. */
  result: string;
  message: string;
}

const LABEL: Record<string, string> = {
  reachable: 'reachable',
  wrong_credentials: 'wrong credentials',
  missing_permission: 'missing permission',
  unreachable: 'unreachable',
  misconfigured: 'misconfigured',
  timeout: 'no answer',
  not_checked: 'not checked',
};

/** Every system's connector `check()`, in parallel, each bounded by the timeout. */
export async function checkConnections(project: Project, timeoutMs: number): Promise<ConnectionResult[]> {
  const log = pino({ level: 'silent' });
  // ${secret:…} references resolve from the hub's database with the master key, as the hub would.
  const offline = await openSecretsOffline(project).catch((e: unknown) => e as Error);
  const results = await Promise.all(
    [...project.systems.values()].map(async (s): Promise<ConnectionResult> => {
      const connector = getConnector(s.kind);
      const base = { system: s.name, kind: s.kind };
      if (!connector?.check) return { ...base, ok: true, result: 'not_checked', message: `the ${s.kind} connector has no check` };
      let opened: OpenedSystem | undefined;
      try {
        if (offline instanceof Error) throw offline;
        opened = await offline?.secrets.open(s);
      } catch (e) {
        if (configSecretNames(s.config).length > 0) return { ...base, ok: false, result: 'misconfigured', message: `secrets: ${errorMessage(e)}` };
      }
      const signal = AbortSignal.timeout(timeoutMs);
      let timer: NodeJS.Timeout | undefined;
      // The signal asks the connector to stop; the race makes sure we stop waiting even if it does not listen.
      const late = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs + 100);
      });
      try {
        const r: CheckResult | 'timeout' = await Promise.race([connector.check({ system: s.name, config: opened?.config ?? s.config, signal, log, egress: project.egress, ...(opened?.credentials ? { credentials: opened.credentials } : {}) }), late]);
        if (r === 'timeout' || (!r.ok && signal.aborted)) return { ...base, ok: false, result: 'timeout', message: `no answer within ${timeoutMs / 1000} s` };
        const message = opened ? opened.scrub(r.message) : r.message;
        return r.ok ? { ...base, ok: true, result: 'reachable', message } : { ...base, ok: false, result: r.problem, message };
      } catch (e) {
        return { ...base, ok: false, result: 'unreachable', message: opened ? opened.scrub(errorMessage(e)) : errorMessage(e) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  await closeConnectors();
  if (offline && !(offline instanceof Error)) await offline.close();
  return results;
}

/** Every mapping of a project (topics, flow filters, maps and write-backs, erasure maps), each once. */
function projectMappings(project: Project): Mapping[] {
  const all: Array<Mapping | undefined> = [];
  for (const s of project.systems.values()) for (const t of s.topics.values()) all.push(t.mapping);
  for (const f of project.flows.values()) all.push(f.filter, f.map, f.writeback);
  for (const e of project.privacy.erasure.values()) all.push(e.map);
  return [...new Set(all.filter((m): m is Mapping => m !== undefined))];
}

/** Which mappings run compiled to JavaScript and which in the JSONata interpreter, and why (src/mapping/compiled/). */
export function mappingSummary(project: Project): { compiled: number; interpreted: Array<{ source: string; why: string }> } {
  const mappings = projectMappings(project);
  const interpreted = mappings.filter((m) => !m.compiled).map((m) => ({ source: m.source, why: m.notCompiledBecause ?? 'not compiled' }));
  return { compiled: mappings.length - interpreted.length, interpreted };
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand('validate', argv, {
    project: { type: 'string' },
    'check-connections': { type: 'boolean' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const timeoutMs = (intOption(values.timeout, 'timeout', { min: 1, max: 600 }) ?? 10) * 1000;
  let project: Project;
  try {
    project = loadProject(projectDir(values.project));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    report(e.problems, values.json === true);
    return EXIT.problem;
  }
  const connections = values['check-connections'] ? await checkConnections(project, timeoutMs) : undefined;
  const failed = connections?.filter((c) => !c.ok) ?? [];
  const mappings = mappingSummary(project);
  if (values.json) {
    printJson({ valid: true, project: project.file, systems: project.systems.size, flows: project.flows.size, mappings, problems: [], ...(connections ? { connections } : {}) });
    return failed.length ? EXIT.problem : EXIT.ok;
  }
  print(`${relative(process.cwd(), project.file) || project.file}: valid (${plural(project.systems.size, 'system')}, ${plural(project.flows.size, 'flow')})`);
  const total = mappings.compiled + mappings.interpreted.length;
  if (total > 0) {
    print(`mappings: ${mappings.compiled} of ${total} compiled to JavaScript${mappings.interpreted.length ? '; in the JSONata interpreter (same results, slower):' : ''}`);
    for (const m of mappings.interpreted) print(`  ${relative(process.cwd(), m.source) || m.source}: ${m.why}`);
  }
  if (connections) {
    print();
    process.stdout.write(
      table(connections, [
        { header: 'system', value: (c) => c.system },
        { header: 'kind', value: (c) => c.kind },
        { header: 'connection', value: (c) => paint(process.stdout, c.ok ? 'green' : 'red', LABEL[c.result] ?? c.result) },
        { header: 'detail', value: (c) => c.message, max: 160 },
      ]),
    );
    if (failed.length) print(`\n${plural(failed.length, 'system')} failed the check: ${failed.map((c) => c.system).join(', ')}`);
  }
  return failed.length ? EXIT.problem : EXIT.ok;
}

function report(unsorted: ConfigProblem[], json: boolean): void {
  // causeway.yaml first, then the mapping files; by line within each.
  const problems = [...unsorted].sort((a, b) => Number(b.file.endsWith('causeway.yaml')) - Number(a.file.endsWith('causeway.yaml')) || a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0));
  if (json) {
    printJson({ valid: false, problems: problems.map((p) => ({ file: p.file, line: p.line ?? null, message: p.message })) });
    return;
  }
  process.stderr.write(`invalid project: ${plural(problems.length, 'problem')}\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
}

export const validate: Command = { name: 'validate', help: HELP, run };
