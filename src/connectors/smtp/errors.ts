import type { NodemailerError } from 'nodemailer';
import { errorMessage } from '../../errors.js';
import { PermanentError, RetryableError, type ActionError, type CallSummary, type CheckResult } from '../types.js';

/**
 * What an SMTP failure means for the retry policy and for `check`. The
 * server's reply code decides when there is one (RFC 5321: 5yz is a
 * permanent refusal, 4yz a transient one); without a reply, a failure of
 * the connection is retried and a message we could not even build is not.
 */

/** Failures nodemailer reports before or without a server reply that no retry can fix. */
const PERMANENT_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'ECONFIG', 'ENOAUTH', 'EMAXRECIPIENTS', 'EREQUIRETLS', 'EFILEACCESS', 'EURLACCESS']);

const CERTIFICATE = /certificate|self[- ]signed|CERT_|altnames/i;

function details(e: unknown): NodemailerError {
  return (typeof e === 'object' && e !== null ? e : {}) as NodemailerError;
}

export function summaryOf(target: string, e: unknown): CallSummary {
  const err = details(e);
  return {
    request: target,
    ...(typeof err.responseCode === 'number' ? { status: err.responseCode } : {}),
    ...(typeof err.response === 'string' ? { response: err.response.slice(0, 2048) } : {}),
  };
}

export function actionErrorFor(target: string, e: unknown): ActionError {
  const err = details(e);
  const summary = summaryOf(target, e);
  const message = `${target}: ${errorMessage(e)}`;
  const code = err.responseCode;
  if (typeof code === 'number' && code >= 400) {
    // 503 (bad sequence of commands) is about the session, not the message: a new connection can succeed.
    if (code >= 500 && code !== 503) return new PermanentError(message, { summary, cause: e });
    return new RetryableError(message, { summary, cause: e });
  }
  if (err.code === 'EABORT') {
    // The server may have accepted it already; the retry carries the same Message-ID.
    return new RetryableError(`${target}: the send was cancelled (flow timeout); the server may have accepted it`, { summary, cause: e });
  }
  if (err.code !== undefined && PERMANENT_CODES.has(err.code)) return new PermanentError(message, { summary, cause: e });
  return new RetryableError(message, { summary, cause: e });
}

export function checkResultFor(target: string, e: unknown): CheckResult {
  const err = details(e);
  const message = `${target}: ${errorMessage(e)}`;
  if (err.code === 'EAUTH') {
    // 535 and 534 refuse the credentials; a 4xx during AUTH is the server's trouble, not ours.
    if (typeof err.responseCode === 'number' && err.responseCode >= 400 && err.responseCode < 500) return { ok: false, problem: 'unreachable', message };
    return { ok: false, problem: 'wrong_credentials', message };
  }
  if (err.code === 'ENOAUTH' || err.code === 'ECONFIG' || err.code === 'ETLS' || err.code === 'EREQUIRETLS' || CERTIFICATE.test(errorMessage(e))) {
    return { ok: false, problem: 'misconfigured', message };
  }
  if (typeof err.responseCode === 'number' && err.responseCode >= 500) return { ok: false, problem: 'misconfigured', message };
  return { ok: false, problem: 'unreachable', message };
}
