import { createTransport } from 'nodemailer';
import { errorMessage } from '../../errors.js';
import { checker } from '../http/validate.js';
import { PermanentError, type ActionContext, type ActionResult, type CheckContext, type CheckResult, type Connector } from '../types.js';
import { actionErrorFor, checkResultFor } from './errors.js';
import { manifest, SendInput, SendOptions, SmtpConfig } from './manifest.js';
import { planMail } from './message.js';
import { closePools, poolFor, transportOptions } from './transport.js';

/**
 * The `smtp` connector: one action, `send`, through a pooled SMTP
 * connection per system. The message is rendered from the flow's template
 * (or taken from the input) and carries the delivery's idempotency key as
 * its Message-ID and in two headers.
 */

const parseConfig = checker(SmtpConfig, 'the smtp system config');
const parseOptions = checker(SendOptions, 'the send options (do.with)');
const parseInput = checker(SendInput, 'the send input');

const targetOf = (config: SmtpConfig): string => {
  const o = transportOptions(config);
  return `SMTP ${config.secure ? 'smtps' : 'smtp'}://${config.host}:${String(o.port)}`;
};

async function send(input: unknown, ctx: ActionContext): Promise<ActionResult> {
  const config = parseConfig(ctx.config);
  const mail = planMail(parseInput(input), parseOptions(ctx.options), ctx);
  const target = targetOf(config);
  let info;
  try {
    info = await poolFor(ctx.system, config, ctx.egress).sendMail({
      from: config.from,
      to: mail.to,
      cc: mail.cc,
      bcc: mail.bcc,
      ...(mail.replyTo ? { replyTo: mail.replyTo } : {}),
      subject: mail.subject,
      ...(mail.text !== undefined ? { text: mail.text } : {}),
      ...(mail.html !== undefined ? { html: mail.html } : {}),
      messageId: mail.messageId,
      headers: mail.headers,
      // Aborting (the flow timeout) closes the connection carrying this message; the pool's others go on.
      signal: ctx.signal,
    });
  } catch (e) {
    throw actionErrorFor(target, e);
  }
  const rejected = info.rejected.map(String);
  if (rejected.length > 0) ctx.log.warn({ system: ctx.system, rejected }, 'the server refused some recipients; the others got the message');
  return {
    output: { message_id: info.messageId, accepted: info.accepted.map(String), rejected, response: info.response },
    summary: { request: target, response: info.response.slice(0, 2048) },
  };
}

/** Connects, says EHLO, upgrades to TLS and authenticates as a send would, then quits: nothing is sent. */
async function check(ctx: CheckContext): Promise<CheckResult> {
  let config: SmtpConfig;
  try {
    config = parseConfig(ctx.config);
  } catch (e) {
    return { ok: false, problem: 'misconfigured', message: errorMessage(e) };
  }
  const target = targetOf(config);
  const transporter = createTransport(transportOptions(config, ctx.egress));
  const aborted = new Promise<never>((_resolve, reject) => {
    if (ctx.signal.aborted) reject(new Error('the check was cancelled'));
    ctx.signal.addEventListener('abort', () => reject(new Error('the check timed out')), { once: true });
  });
  try {
    await Promise.race([transporter.verify(), aborted]);
    return { ok: true, message: `${target} accepted the connection${config.auth ? ' and the credentials' : ''}` };
  } catch (e) {
    return checkResultFor(target, e);
  } finally {
    transporter.close();
  }
}

export const smtpConnector: Connector = {
  manifest,
  async act(action, input, ctx) {
    if (action !== 'send') throw new PermanentError(`the smtp connector has no action "${action}"`);
    return send(input, ctx);
  },
  check,
  async close() {
    closePools();
  },
};
