import { CausewayError } from '../errors.js';

/** An optional ISO 8601 query parameter as epoch milliseconds; anything else is a 400 naming the parameter. */
export function queryTime(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new CausewayError('validation_failed', `${name} must be an ISO 8601 time`, { details: [{ path: `/${name}`, message: 'not a time' }] });
  return t;
}
