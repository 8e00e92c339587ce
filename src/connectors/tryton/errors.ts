import { PermanentError, RetryableError, type ActionError, type CallSummary } from '../types.js';

/**
 * Tryton answers a failed call with HTTP 200 and an `error` member. Its shape
 * depends on what failed (trytond/protocols/jsonrpc.py):
 *   - a Tryton exception: `[name, args]`, e.g. `["UserError", [message, description, domain]]`,
 *     `["ConcurrencyException", "Records were modified in the meanwhile"]`;
 *   - any other exception: `[str(exception), traceback]`, e.g. `["'customer_taxes_used'", ""]`
 *     or `["database is locked", "Traceback…"]` once trytond's own retries are spent.
 * Only authentication and permission failures use HTTP statuses (401, 403, 429).
 */

/** Names of Tryton exceptions that another attempt may get past. */
const RETRYABLE_NAMES = new Set(['ConcurrencyException', 'RateLimitException']);
/** Tryton exceptions that say the request itself is wrong: the same request fails the same way. */
const PERMANENT_NAMES = new Set(['UserError', 'UserWarning', 'LoginException', 'MissingDependenciesException', 'AccessError']);
/** Other exceptions whose text says the database was busy or went away, not that the request is wrong. */
const TRANSIENT_TEXT = /database is locked|could not serialize|deadlock detected|OperationalError|server closed the connection|connection (?:refused|reset)|timeout/i;

export interface TrytonFault {
  /** The exception name for Tryton exceptions, else the exception text. */
  name: string;
  /** The human message: a UserError's message, the exception text otherwise. */
  message: string;
  retryable: boolean;
}

/** Reads an `error` member; tolerant of shapes this version does not send, so an odd answer is still reported. */
export function readFault(error: unknown): TrytonFault {
  if (!Array.isArray(error)) return { name: String(error), message: String(error), retryable: false };
  const [first, args] = error as [unknown, unknown];
  const name = typeof first === 'string' ? first : JSON.stringify(first);
  if (RETRYABLE_NAMES.has(name) || PERMANENT_NAMES.has(name)) {
    let message = name;
    if (typeof args === 'string') message = args;
    else if (Array.isArray(args)) {
      // UserWarning args are [warning name, message, description]; UserError's are [message, description, domain].
      const parts = (name === 'UserWarning' ? args.slice(1, 3) : args.slice(0, 2)).filter((a): a is string => typeof a === 'string' && a.length > 0);
      if (parts.length) message = parts.join(' — ');
    }
    return { name, message, retryable: RETRYABLE_NAMES.has(name) };
  }
  // A non-Tryton exception: its text is all there is; the traceback stays out of the attempt log.
  return { name, message: name, retryable: TRANSIENT_TEXT.test(name) };
}

/** The error the retry policy needs for a fault answer. */
export function faultError(method: string, fault: TrytonFault, summary: CallSummary): ActionError {
  const text = `Tryton ${method}: ${fault.name === fault.message ? fault.message : `${fault.name}: ${fault.message}`}`;
  return fault.retryable ? new RetryableError(text, { summary }) : new PermanentError(text, { summary });
}
