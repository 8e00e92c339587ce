import { errorMessage } from '../../errors.js';
import { checker } from '../http/validate.js';
import type { CheckContext, CheckResult } from '../types.js';
import { ActionError } from '../types.js';
import { TrytonConfig } from './manifest.js';
import { companyCurrency } from './refdata.js';
import { TrytonClient } from './rpc.js';

const parseConfig = checker(TrytonConfig, 'the tryton system config');

/** Logs in (or reuses the session) and reads the company: reachable, credentials right, and a company to sell from. */
export async function check(ctx: CheckContext): Promise<CheckResult> {
  let config: TrytonConfig;
  try {
    config = parseConfig(ctx.config);
  } catch (e) {
    return { ok: false, problem: 'misconfigured', message: errorMessage(e) };
  }
  const client = new TrytonClient(config, ctx.signal, ctx.egress, ctx.log);
  try {
    const currency = await companyCurrency(client);
    return { ok: true, message: `Tryton database "${config.database}" at ${config.url}: logged in as ${config.login}, company currency ${currency.code}` };
  } catch (e) {
    const message = errorMessage(e);
    const status = e instanceof ActionError ? e.summary?.status : undefined;
    if (/refused the login/.test(message)) return { ok: false, problem: 'wrong_credentials', message };
    if (status === 403) return { ok: false, problem: 'missing_permission', message };
    if (status === 404 || /no company/.test(message)) return { ok: false, problem: 'misconfigured', message };
    if (e instanceof ActionError && e.kind === 'retryable') return { ok: false, problem: 'unreachable', message };
    return { ok: false, problem: 'misconfigured', message };
  }
}
