import { MqttClient, type IClientOptions, type IConnackPacket } from 'mqtt';
import { egressRefusal, type Egress } from '../../net/egress.js';
import { errorMessage } from '../../errors.js';
import { PermanentError, RetryableError, type ActionError, type CheckResult } from '../types.js';
import type { MqttConfig } from './manifest.js';

/** Client options from a system's config, the first CONNACK, and what MQTT reason codes mean. */

export function describeBroker(config: MqttConfig): string {
  const tls = config.tls !== undefined;
  return `${tls ? 'mqtts' : 'mqtt'}://${config.host}:${config.port ?? (tls ? 8883 : 1883)}`;
}

export function isV5(config: MqttConfig): boolean {
  return (config.protocol_version ?? 5) === 5;
}

export function clientOptions(config: MqttConfig, clientId: string, session: { clean: boolean; expirySeconds?: number }): IClientOptions {
  const tls = config.tls !== undefined;
  const v5 = isV5(config);
  return {
    host: config.host,
    port: config.port ?? (tls ? 8883 : 1883),
    protocol: tls ? 'mqtts' : 'mqtt',
    protocolVersion: v5 ? 5 : 4,
    clientId,
    clean: session.clean,
    keepalive: config.keepalive_seconds ?? 30,
    connectTimeout: config.connect_timeout_ms ?? 10_000,
    reconnectPeriod: 1000,
    // We attach our handlers before the first byte: a resumed session delivers its queued messages right after CONNACK.
    manualConnect: true,
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    // MQTT 5 ends a session when the connection does unless it has an expiry; 3.1.1 keeps a clean=false session until the broker expires it.
    ...(v5 && session.expirySeconds !== undefined ? { properties: { sessionExpiryInterval: session.expirySeconds } } : {}),
    ...(tls
      ? {
          rejectUnauthorized: config.tls?.reject_unauthorized ?? true,
          ...(config.tls?.ca ? { ca: config.tls.ca } : {}),
          ...(config.tls?.servername ? { servername: config.tls.servername } : {}),
        }
      : {}),
  };
}

/**
 * A client whose every connection (the first and each reconnect) opens
 * under the egress policy. mqtt.js's own TCP stream builder passes no
 * resolver hook to net, so the client gets ours instead.
 */
export function openClient(config: MqttConfig, options: IClientOptions, egress: Egress): MqttClient {
  const host = config.host;
  const port = options.port ?? 1883;
  const tls = config.tls;
  const stream = () =>
    tls === undefined
      ? egress.connect({ host, port })
      : egress.connectTls({
          host,
          port,
          rejectUnauthorized: tls.reject_unauthorized ?? true,
          ...(tls.ca ? { ca: tls.ca } : {}),
          ...(tls.servername ? { servername: tls.servername } : {}),
        });
  return new MqttClient(stream, options);
}

/** Connects (manualConnect) and resolves on the first CONNACK that accepts us; rejects on a refusal, an error or the timeout. */
export function connectOnce(client: MqttClient, timeoutMs: number): Promise<IConnackPacket> {
  return new Promise((resolve, reject) => {
    const finish = (err: Error | undefined, packet?: IConnackPacket) => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      if (err) reject(err);
      else resolve(packet as IConnackPacket);
    };
    const onConnect = (packet: IConnackPacket) => finish(undefined, packet);
    const onError = (e: Error) => finish(e);
    const timer = setTimeout(() => finish(new Error(`no answer to CONNECT within ${timeoutMs} ms`)), timeoutMs);
    client.on('connect', onConnect);
    client.on('error', onError);
    client.connect();
  });
}

/**
 * Ends a client for good. Its reconnect timer is turned off first: a client
 * whose connect just failed may schedule a reconnect after `end()` (when its
 * socket's close comes later), and a stray reconnect with a source's client
 * id would take that session over from the hub's live subscription.
 */
export async function dispose(client: MqttClient): Promise<void> {
  client.options.reconnectPeriod = 0;
  await client.endAsync(true).catch(() => undefined);
}

function reasonCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * CONNACK codes: 3.1.1 return codes 4/5, MQTT 5 reason codes 134/135 (bad
 * user name or password / not authorized), 2/133 (client id refused).
 * "Not authorized" on CONNECT is about who we are, not what we may do
 * (Mosquitto answers a wrong password with it), so it counts as refused
 * credentials; a missing permission shows later, as a refused SUBSCRIBE
 * (the source fails to start) or PUBLISH (a permanent delivery failure).
 */
export function checkProblem(target: string, e: unknown): CheckResult {
  const code = reasonCode(e);
  const message = `${target}: ${errorMessage(e)}`;
  if (code === 4 || code === 5 || code === 134 || code === 135 || code === 140) return { ok: false, problem: 'wrong_credentials', message };
  if (code === 1 || code === 2 || code === 132 || code === 133) return { ok: false, problem: 'misconfigured', message };
  if (/certificate|self[- ]signed|CERT_/i.test(errorMessage(e))) return { ok: false, problem: 'misconfigured', message };
  return { ok: false, problem: 'unreachable', message };
}

/** PUBACK reason codes that no retry changes: not authorized, bad topic, bad payload format. */
const PERMANENT_PUBACK = new Set([135, 144, 153]);

export function publishError(target: string, e: unknown): ActionError {
  if (e instanceof PermanentError || e instanceof RetryableError) return e;
  if (egressRefusal(e)) return new PermanentError(`${target}: ${errorMessage(e)}`, { summary: { request: target }, cause: e });
  const code = reasonCode(e);
  const summary = code === undefined ? { request: target } : { request: target, status: code };
  const message = `${target}: ${errorMessage(e)}`;
  if (code !== undefined && PERMANENT_PUBACK.has(code)) return new PermanentError(message, { summary, cause: e });
  return new RetryableError(message, { summary, cause: e });
}
