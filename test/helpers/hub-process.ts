import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface HubProcess {
  child: ChildProcess;
  url: string;
  /** The admin token it was started with (CAUSEWAY_ADMIN_TOKEN), for the management API and the CLI's CAUSEWAY_TOKEN. */
  token: string;
  /** Resolves with the exit code or signal. */
  exited: Promise<number | string | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  logs: string[];
}

/**
 * Starts `causeway start` as a child process on a free port and resolves
 * once it logged that it listens. Logs are kept for failure messages.
 */
export async function startHubProcess(options: {
  project: string;
  databaseUrl: string;
  env?: Record<string, string>;
  args?: string[];
  /** How long it may take to listen (default 30 s; a host with busy CPUs needs more). */
  startTimeoutMs?: number;
}): Promise<HubProcess> {
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  // Always authenticated: a known admin token unless the test sets its own. The same for every
  // process on one database, since a new CAUSEWAY_ADMIN_TOKEN value replaces the previous one.
  const token = options.env?.['CAUSEWAY_ADMIN_TOKEN'] ?? `test-admin-${createHash('sha256').update(options.databaseUrl).digest('hex').slice(0, 32)}`;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', '--project', options.project, '--port', '0', ...(options.args ?? [])], {
    env: { ...process.env, DATABASE_URL: options.databaseUrl, LOG_LEVEL: 'info', CAUSEWAY_ADMIN_TOKEN: token, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | string | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Do not leave a hung child behind: the caller never gets a handle to kill it.
      child.kill('SIGKILL');
      reject(new Error(`hub did not start in ${startTimeoutMs} ms:\n${logs.join('\n')}`));
    }, startTimeoutMs);
    const onLine = (line: string) => {
      logs.push(line);
      if (logs.length > 2000) logs.shift();
      try {
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === 'hub listening' && entry.address) {
          clearTimeout(timer);
          resolve(entry.address);
        }
      } catch {
        // not a log line
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited (${String(code)}) before listening:\n${logs.join('\n')}`));
    });
  });
  return {
    child,
    url,
    token,
    exited,
    logs,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
