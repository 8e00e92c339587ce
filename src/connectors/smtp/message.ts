import { createHash } from 'node:crypto';
import { escapeHtml, renderTemplate } from '../text-template.js';
import { PermanentError } from '../types.js';
import type { SendInput, SendOptions } from './manifest.js';

/** What `send` hands to nodemailer, before the transport and the signal. */
export interface PlannedMail {
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string | undefined;
  subject: string;
  text: string | undefined;
  html: string | undefined;
  messageId: string;
  headers: Record<string, string>;
}

// RFC 5322 dot-atom text: what the left side of a Message-ID may be without quoting.
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * `<key@causeway>`: the same for every attempt at one delivery, so a
 * receiving system that deduplicates on Message-ID takes a repeat once.
 * A key that is not a dot-atom is hashed rather than escaped, so two keys
 * can never share an id.
 */
export function messageIdFor(idempotencyKey: string): string {
  const local = DOT_ATOM.test(idempotencyKey) && idempotencyKey.length <= 200
    ? idempotencyKey
    : `h.${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 40)}`;
  return `<${local}@causeway>`;
}

const noLineBreak = (v: string): string | undefined => (/[\r\n]/.test(v) ? 'must not contain a line break' : undefined);

function recipients(fromInput: string | string[] | undefined, fromOptions: string | string[] | undefined, input: unknown, field: string): string[] {
  if (fromInput !== undefined) return (Array.isArray(fromInput) ? fromInput : [fromInput]).filter((a) => a.trim().length > 0);
  if (fromOptions === undefined) return [];
  const list = Array.isArray(fromOptions) ? fromOptions : [fromOptions];
  return list
    .map((t) => renderTemplate(t, input, { what: `the ${field} option`, missing: 'error', refuse: noLineBreak }).trim())
    .filter((a) => a.length > 0);
}

/** The message for one delivery: template parts rendered, the rest from the input, every required part checked. */
export function planMail(input: SendInput & Record<string, unknown>, options: SendOptions, ctx: { idempotencyKey: string; traceId: string }): PlannedMail {
  const t = options.template ?? {};
  const plain = (template: string, what: string) => renderTemplate(template, input, { what, missing: 'empty' });
  // A line break in a subject would end the header; folding it to a space keeps the text.
  const subject = (t.subject !== undefined ? plain(t.subject, 'the subject template') : input.subject ?? '').replace(/[\r\n]+/g, ' ').trim();
  const text = t.text !== undefined ? plain(t.text, 'the text template') : input.text;
  const html = t.html !== undefined ? renderTemplate(t.html, input, { what: 'the html template', missing: 'empty', escape: escapeHtml }) : input.html;
  const to = recipients(input.to, options.to, input, 'to');
  const cc = recipients(input.cc, options.cc, input, 'cc');
  const bcc = recipients(input.bcc, options.bcc, input, 'bcc');
  if (to.length + cc.length + bcc.length === 0) throw new PermanentError('the message has no recipient: set `to` in the input or in the options');
  if (subject.length === 0) throw new PermanentError('the message has no subject: set `subject` in the input or template.subject in the options');
  if (!text && !html) throw new PermanentError('the message has no body: set `text` or `html` in the input or in the template');
  return {
    to,
    cc,
    bcc,
    replyTo: input.reply_to,
    subject,
    text: text || undefined,
    html: html || undefined,
    messageId: messageIdFor(ctx.idempotencyKey),
    headers: {
      'Idempotency-Key': ctx.idempotencyKey,
      'X-Causeway-Idempotency-Key': ctx.idempotencyKey,
      'X-Causeway-Trace-Id': ctx.traceId,
    },
  };
}
