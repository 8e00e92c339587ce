import { createTransport, type SMTPPoolOptions } from 'nodemailer';
import type { SMTPTransportGetSocket } from 'nodemailer/lib/smtp-transport';
import type { Egress } from '../../net/egress.js';
import type { SmtpConfig } from './manifest.js';

type Transporter = ReturnType<typeof createPool>;

/**
 * nodemailer's socket hook: every connection is opened through the egress
 * policy and handed over connected (nodemailer then skips its own DNS
 * lookup, and still upgrades to TLS under the configured host name).
 */
function egressSocket(egress: Egress, host: string, port: number, timeoutMs: number): SMTPTransportGetSocket {
  return (_options, callback) => {
    const socket = egress.connect({ host, port });
    const timer = setTimeout(() => socket.destroy(new Error(`connecting to ${host}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);
    const onError = (e: Error) => {
      clearTimeout(timer);
      callback(e);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      callback(null, { connection: socket });
    });
  };
}

/** nodemailer's options for a system's config; `pool` only for sending (a check opens its own connection). */
export function transportOptions(config: SmtpConfig, egress?: Egress): SMTPPoolOptions {
  const secure = config.secure ?? false;
  const starttls = config.starttls ?? 'required';
  const timeout = config.timeout_ms ?? 30_000;
  return {
    host: config.host,
    port: config.port ?? (secure ? 465 : 587),
    secure,
    // With `secure` the whole connection is TLS already; STARTTLS does not apply.
    requireTLS: !secure && starttls === 'required',
    ignoreTLS: !secure && starttls === 'never',
    tls: {
      rejectUnauthorized: config.tls?.reject_unauthorized ?? true,
      minVersion: 'TLSv1.2',
      ...(config.tls?.ca ? { ca: config.tls.ca } : {}),
      ...(config.tls?.servername ? { servername: config.tls.servername } : {}),
    },
    ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.pass } } : {}),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    ...(egress ? { getSocket: egressSocket(egress, config.host, config.port ?? (secure ? 465 : 587), timeout) } : {}),
  };
}

function createPool(config: SmtpConfig, egress: Egress) {
  return createTransport({
    ...transportOptions(config, egress),
    pool: true,
    maxConnections: config.max_connections ?? 5,
    // No silent resend inside one attempt: a message whose connection broke may have been accepted, so the hub's retry policy decides.
    maxRequeues: 0,
    // Servers commonly drop idle clients after a few minutes; closing first avoids failing a send on a dead connection.
    idleTimeout: 60_000,
  });
}

/** One pool per system; a changed config (a reloaded project) replaces it. */
const pools = new Map<string, { key: string; transporter: Transporter }>();

export function poolFor(system: string, config: SmtpConfig, egress: Egress): Transporter {
  const key = JSON.stringify([config, egress.key]);
  const current = pools.get(system);
  if (current?.key === key) return current.transporter;
  // Messages in flight on the old pool finish; only its idle connections close now.
  current?.transporter.close();
  const transporter = createPool(config, egress);
  pools.set(system, { key, transporter });
  return transporter;
}

export function closePools(): void {
  for (const { transporter } of pools.values()) transporter.close();
  pools.clear();
}
