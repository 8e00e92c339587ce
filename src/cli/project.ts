import { ConfigError, loadProject, type ConfigProblem, type Project } from '../config/load.js';
import { CliError, EXIT } from './args.js';

export const PROJECT_HELP = `  --project DIR   the project folder with causeway.yaml (env CAUSEWAY_PROJECT, default .)`;

export function projectDir(option: string | undefined): string {
  return option ?? (process.env['CAUSEWAY_PROJECT'] || '.');
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`;
}

const MISSING_ENV = /^environment variable ([A-Za-z_][A-Za-z0-9_]*) is not set$/;

/**
 * Loads a project for the offline commands (test, plan). Secrets are
 * usually not set where tests run (a laptop, CI), and nothing is sent, so
 * an unset `${env:NAME}` stands in as a placeholder value instead of failing
 * the load; the names are returned so the command can say so. Every other
 * problem fails as `validate` would (exit 1).
 */
export function loadOffline(dir: string): { project: Project; placeholders: string[] } {
  try {
    return { project: loadProject(dir), placeholders: [] };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const names = e.problems.map((p) => MISSING_ENV.exec(p.message)?.[1]);
    if (names.some((n) => n === undefined)) throw configFailure(e);
    const unique = [...new Set(names as string[])];
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Long enough for the key length checks (api_key needs 16 characters).
    for (const n of unique) env[n] = `placeholder-for-${n}-0000000000000000`;
    try {
      return { project: loadProject(dir, env), placeholders: unique };
    } catch (again) {
      if (again instanceof ConfigError) throw configFailure(again, unique);
      throw again;
    }
  }
}

/** A project that does not load, as the CLI reports it: every problem with its file and line. */
export function configFailure(e: ConfigError, placeholders: string[] = []): CliError {
  const note = placeholders.length ? `\n(unset, so replaced by a placeholder: ${placeholders.join(', ')})` : '';
  return new CliError(EXIT.problem, `invalid project: ${e.problems.length === 1 ? '1 problem' : `${e.problems.length} problems`}\n${e.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}${note}`);
}

export function placeholderNote(names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  return `note: ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} not set; offline ${names.length === 1 ? 'it stands' : 'they stand'} in as a placeholder`;
}
