import type { DemoRequest, Log, Route } from './server.js';
import type { DemoSettings, SystemName } from './settings.js';

/** What every stand-in is: its routes, its credentials check, and what it must finish before it stops. */
export interface StandIn {
  name: SystemName;
  routes: Route[];
  refuse?: (req: DemoRequest) => string | undefined;
  /** Waits for what it is still sending to the hub. */
  idle?: () => Promise<void>;
}

export interface StandInContext {
  settings: DemoSettings;
  /** Where the hub is (read at each call: a test learns the hub's port after starting the stand-ins). */
  hubUrl(): string;
  /** The stand-in's own address (the carrier puts it in tracking links). */
  selfUrl(): string;
  log: Log;
}

export interface HubAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** POSTs JSON to the hub's intake as a connected system would. */
export async function postToHub(ctx: StandInContext, path: string, raw: string, headers: Record<string, string>): Promise<HubAnswer> {
  const res = await fetch(new URL(path, ctx.hubUrl()), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: raw,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}

/** "bad credentials" unless `presented` is `expected`. */
export function credentialProblem(presented: string | undefined, expected: string, what: string): string | undefined {
  if (presented === undefined) return `no ${what}`;
  return presented === expected ? undefined : `wrong ${what}`;
}
