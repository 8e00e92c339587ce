import { connect, type ConnectionOptions, type NatsConnection, type TlsOptions } from 'nats';
import { egressRefusal, type Egress } from '../../net/egress.js';
import { parseIp } from '../../net/ip.js';
import { errorMessage } from '../../errors.js';
import { PermanentError, RetryableError, type ActionError, type CheckResult } from '../types.js';
import type { NatsConfig } from './manifest.js';

/** Connections from a system's config, and what NATS and JetStream failures mean. */

export function describeServers(config: NatsConfig): string {
  const list = Array.isArray(config.servers) ? config.servers : [config.servers];
  return `nats://${list.map((s) => s.replace(/^nats:\/\//, '')).join(',')}`;
}

/**
 * The configured servers with each host resolved once and judged by the
 * egress policy: nats.js gets addresses, so it has nothing left to resolve
 * (and cannot be rebound). The name stays the TLS server name.
 */
async function checkedServers(config: NatsConfig, egress: Egress): Promise<{ servers: string[]; servername: string | undefined }> {
  const list = Array.isArray(config.servers) ? config.servers : [config.servers];
  const names = new Set<string>();
  const servers = await Promise.all(
    list.map(async (s) => {
      // [scheme://][user:pass@]host[:port]: the scheme and credentials are kept, the host becomes its checked address.
      const m = /^([a-z]+:\/\/)?([^@/]*@)?(\[[^\]]+\]|[^:/@]+)(?::(\d+))?\/?$/i.exec(s.trim());
      if (!m) throw new PermanentError(`the NATS server "${s}" is not host:port`);
      const host = m[3]!.replace(/^\[|\]$/g, '');
      const port = m[4] === undefined ? 4222 : Number(m[4]);
      const address = await egress.resolve(host, port);
      if (parseIp(host) === undefined) names.add(host);
      return `${m[1] ?? ''}${m[2] ?? ''}${address.includes(':') ? `[${address}]` : address}:${port}`;
    }),
  );
  return { servers, servername: names.size === 1 ? [...names][0] : undefined };
}

/**
 * A connection that reconnects by itself for as long as it lives
 * (maxReconnectAttempts -1); `name` shows in the server's connection list.
 * Servers the cluster announces are ignored: only configured (and
 * egress-checked) servers are ever dialled.
 */
export async function openConnection(config: NatsConfig, name: string, egress: Egress, options: { reconnect: boolean } = { reconnect: true }): Promise<NatsConnection> {
  const { servers, servername } = await checkedServers(config, egress);
  // nats.js hands these to tls.connect; `rejectUnauthorized` is not in its TlsOptions type but is honoured.
  const tls: (TlsOptions & { rejectUnauthorized?: boolean; servername?: string }) | undefined = config.tls
    ? {
        ...(config.tls.ca ? { ca: config.tls.ca } : {}),
        ...(config.tls.reject_unauthorized === false ? { rejectUnauthorized: false } : {}),
        ...(servername ? { servername } : {}),
      }
    : undefined;
  const opts: ConnectionOptions = {
    servers,
    ignoreClusterUpdates: true,
    name: `causeway ${name}`,
    timeout: config.connect_timeout_ms ?? 10_000,
    reconnect: options.reconnect,
    maxReconnectAttempts: options.reconnect ? -1 : 0,
    reconnectTimeWait: 1000,
    ...(config.user !== undefined ? { user: config.user } : {}),
    ...(config.pass !== undefined ? { pass: config.pass } : {}),
    ...(config.token !== undefined ? { token: config.token } : {}),
    ...(tls ? { tls } : {}),
  };
  return connect(opts);
}

/** The NATS error code: CONNECTION_REFUSED, AUTHORIZATION_VIOLATION, TIMEOUT, '503', '404', … */
export function natsCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isNotFound(e: unknown): boolean {
  return natsCode(e) === '404';
}

/**
 * A publish failure. A JetStream API refusal (a 4xx: the expected stream
 * does not match, the message is too big) and a permissions violation are
 * permanent; no responders (503: no stream takes the subject, or it is
 * between leaders), timeouts and lost connections are retried.
 */
export function publishError(target: string, e: unknown): ActionError {
  if (e instanceof PermanentError || e instanceof RetryableError) return e;
  if (egressRefusal(e)) return new PermanentError(`${target}: ${errorMessage(e)}`, { summary: { request: target }, cause: e });
  const code = natsCode(e);
  const status = code !== undefined && /^\d{3}$/.test(code) ? Number(code) : undefined;
  const summary = status === undefined ? { request: target } : { request: target, status };
  const message = `${target}: ${code === '503' ? 'no stream answered for this subject (503 no responders)' : errorMessage(e)}`;
  if (code === 'PERMISSIONS_VIOLATION' || (status !== undefined && status >= 400 && status < 500 && status !== 408)) {
    return new PermanentError(message, { summary, cause: e });
  }
  return new RetryableError(message, { summary, cause: e });
}

export function checkProblem(target: string, e: unknown): CheckResult {
  const code = natsCode(e);
  const message = `${target}: ${errorMessage(e)}`;
  if (code === 'AUTHORIZATION_VIOLATION' || code === 'AUTHENTICATION_EXPIRED') return { ok: false, problem: 'wrong_credentials', message };
  if (code === 'PERMISSIONS_VIOLATION') return { ok: false, problem: 'missing_permission', message };
  if (code === '503') return { ok: false, problem: 'misconfigured', message: `${target}: JetStream is not enabled for this account` };
  if (code === 'TLS' || /certificate|self[- ]signed|CERT_/i.test(errorMessage(e))) return { ok: false, problem: 'misconfigured', message };
  return { ok: false, problem: 'unreachable', message };
}
