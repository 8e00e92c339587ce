import amqp, { type ChannelModel } from 'amqplib';
import { egressRefusal, type Egress } from '../../net/egress.js';
import { errorMessage } from '../../errors.js';
import { PermanentError, RetryableError, type ActionError, type CheckResult } from '../types.js';
import type { AmqpConfig } from './manifest.js';

/** Opening connections from a system's config, and what AMQP failures mean. */

export function describeBroker(config: AmqpConfig): string {
  const tls = config.tls !== undefined;
  return `${tls ? 'amqps' : 'amqp'}://${config.host}:${config.port ?? (tls ? 5671 : 5672)}/${encodeURIComponent(config.vhost ?? '/')}`;
}

/**
 * One connection; `purpose` names it in the broker's management UI (e.g.
 * `causeway shop/orders`). The socket opens under the egress policy: an IP
 * literal is judged here, a name by the resolver hook amqplib hands to
 * net/tls.connect (so the address checked is the address connected to).
 */
export async function openConnection(config: AmqpConfig, purpose: string, egress: Egress): Promise<ChannelModel> {
  const tls = config.tls !== undefined;
  const port = config.port ?? (tls ? 5671 : 5672);
  const literal = egress.checkHost(config.host, port);
  return amqp.connect(
    {
      protocol: tls ? 'amqps' : 'amqp',
      hostname: literal ?? config.host,
      port,
      vhost: config.vhost ?? '/',
      username: config.username ?? 'guest',
      password: config.password ?? 'guest',
      heartbeat: config.heartbeat_seconds ?? 30,
    },
    {
      timeout: config.connect_timeout_ms ?? 10_000,
      lookup: egress.lookupFor(port),
      clientProperties: { connection_name: `causeway ${purpose}` },
      ...(tls
        ? {
            rejectUnauthorized: config.tls?.reject_unauthorized ?? true,
            ...(config.tls?.ca ? { ca: [config.tls.ca] } : {}),
            ...(config.tls?.servername ? { servername: config.tls.servername } : {}),
          }
        : {}),
    },
  );
}

/** The AMQP reply code of a channel or connection error (404 NOT_FOUND, 403 ACCESS_REFUSED, …), when it has one. */
export function replyCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A publish failure: the broker refusing the message for good (no such
 * exchange, no permission, a bad argument) is permanent; a lost
 * connection, a nack or a timeout is retried.
 */
export function publishError(target: string, e: unknown): ActionError {
  if (e instanceof PermanentError || e instanceof RetryableError) return e;
  if (egressRefusal(e)) return new PermanentError(`${target}: ${errorMessage(e)}`, { summary: { request: target }, cause: e });
  const code = replyCode(e);
  const message = `${target}: ${errorMessage(e)}`;
  if (code === 403 || code === 404 || code === 406) return new PermanentError(message, { summary: { request: target, status: code }, cause: e });
  return new RetryableError(message, { ...(code !== undefined ? { summary: { request: target, status: code } } : { summary: { request: target } }), cause: e });
}

/** What a failed connection attempt says about the system. */
export function checkProblem(target: string, e: unknown): CheckResult {
  const text = errorMessage(e);
  const message = `${target}: ${text}`;
  if (/ACCESS.REFUSED|\b403\b/.test(text)) return { ok: false, problem: 'wrong_credentials', message };
  // The broker closes the handshake without a reason when the vhost is missing or the user may not use it.
  if (/NOT.ALLOWED|\b530\b|ConnectionOpenOk/.test(text)) {
    return { ok: false, problem: 'missing_permission', message: `${target}: the vhost does not exist or the user may not use it (${text})` };
  }
  if (/certificate|self[- ]signed|CERT_/i.test(text)) return { ok: false, problem: 'misconfigured', message };
  return { ok: false, problem: 'unreachable', message };
}
