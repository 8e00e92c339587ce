import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * How the demo finds the hub and asks it questions: the same public HTTP
 * API anyone would use (curl, the CLI). When no hub is running, the demo
 * starts one on a throwaway SQLite database.
 */

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export class HubClient {
  constructor(
    readonly url: string,
    private token: string | undefined,
  ) {}

  /** The hub is always authenticated: the token of a hub the demo started itself. */
  useToken(token: string): void {
    this.token = token;
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  async get<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(new URL(path, this.url), {
      headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  async isUp(): Promise<boolean> {
    try {
      const res = await fetch(new URL('/healthz', this.url), { signal: AbortSignal.timeout(1000) });
      return res.ok;
    } catch {
      return false;
    }
  }
}

export interface OwnHub {
  logFile: string;
  /** The admin token it was started with (CAUSEWAY_ADMIN_TOKEN). */
  token: string;
  /** The last `n` lines it logged. */
  tail(n: number): string;
  stop(): Promise<void>;
}

/** Polls `probe` every 200 ms until it returns something truthy; undefined after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `causeway start --project examples` as a child process, listening where
 * `url` says, on a SQLite file in a temporary folder (removed by `stop`).
 * Its JSON logs go to a file, not to the demo's screen.
 */
export async function startOwnHub(url: string, env: Record<string, string>): Promise<OwnHub> {
  const at = new URL(url);
  const dir = mkdtempSync(join(tmpdir(), 'causeway-demo-'));
  const logFile = join(dir, 'hub.log');
  // A throwaway hub gets a throwaway admin token, handed over the way an operator would.
  const token = `demo-admin-${randomBytes(16).toString('hex')}`;
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'start', '--project', 'examples', '--host', at.hostname, '--port', at.port || '80', '--no-reload'],
    { cwd: REPO, env: { ...process.env, ...env, DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`, LOG_LEVEL: 'info', CAUSEWAY_ADMIN_TOKEN: token }, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const tail = (n: number) => {
    try {
      return readFileSync(logFile, 'utf8').trim().split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  };

  const client = new HubClient(url, undefined);
  const up = await waitFor(async () => gone || (await client.isUp()), 30_000);
  if (!up || gone) {
    const last = tail(5);
    await stop();
    throw new Error(`the hub did not start${last ? `; its last log lines:\n${last}` : ''}`);
  }
  return { logFile, token, tail, stop };
}
