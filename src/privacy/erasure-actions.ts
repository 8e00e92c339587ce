import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import { getConnector } from '../connectors/registry.js';
import { ActionError, failureKindOf, type CallSummary } from '../connectors/types.js';
import { retryDelay } from '../delivery/backoff.js';
import { errorMessage } from '../errors.js';
import type { ConnectorSecrets, OpenedSystem } from '../secrets/runtime.js';
import type { Db } from '../store/db.js';
import { compactSqlite } from './erasure.js';
import { ERASED } from './fields.js';
import { maskText } from './log-mask.js';
import { dueErasureActions, finishErasureAttempt, getErasure, settleErasure, type ErasureActionRow } from '../store/erasures.js';

/**
 * Sends the erasure requests that are due, one system at a time, on the
 * leader's tick (so exactly one process sends each). A request is the
 * system's `erasure` action with an idempotency key per (erasure, system):
 * a repeat after a crash is recognised there, and erasing is idempotent
 * anyway. Retryable failures back off (1 s doubling, at most 5 min) up to
 * the action's attempts; then, or on a permanent failure, the action is
 * `failed` with the error, and the erasure `incomplete` — visible in
 * `GET /v1/erasures/{id}` and `causeway erase`, repeatable by asking again.
 */
export const ERASURE_BATCH = 20;
const RETRY = { attempts: 1, baseDelayMs: 1000, maxDelayMs: 300_000, jitter: 0.2 };

interface Outcome {
  status: 'pending' | 'done' | 'failed';
  summary: CallSummary | undefined;
  error: string | null;
  retryAfterMs?: number | undefined;
}

async function send(a: ErasureActionRow, project: Project, log: Logger, traceId: string, secrets: ConnectorSecrets | undefined): Promise<Outcome> {
  const config = project.privacy.erasure.get(a.system);
  const system = project.systems.get(a.system);
  const connector = system ? getConnector(system.kind) : undefined;
  if (!config || !system || !connector?.act) {
    return { status: 'failed', summary: undefined, error: `${a.system} no longer declares an erasure action in the running project` };
  }
  const attempt = a.attempts + 1;
  const signal = AbortSignal.timeout(config.timeoutMs);
  let opened: OpenedSystem | undefined;
  try {
    opened = secrets ? await secrets.open(system) : undefined;
    const result = await connector.act(config.action, a.input, {
      system: system.name,
      config: opened?.config ?? system.config,
      ...(opened?.credentials ? { credentials: opened.credentials } : {}),
      ...(opened ? { alert: opened.alert } : {}),
      options: config.options,
      idempotencyKey: `erasure-${a.erasureId}-${a.system}`,
      traceId,
      attempt,
      signal,
      log: log.child({ trace_id: traceId, erasure_id: a.erasureId, system: a.system }),
      egress: project.egress,
    });
    return { status: 'done', summary: result.summary, error: null };
  } catch (e) {
    const scrub = opened?.scrub ?? ((t: string) => t);
    const kind = failureKindOf(e);
    const message = scrub(signal.aborted && !(e instanceof ActionError) ? `timed out after ${config.timeoutMs} ms` : errorMessage(e));
    const summary = e instanceof ActionError ? e.summary : undefined;
    const last = attempt >= config.attempts;
    return {
      status: kind === 'permanent' || last ? 'failed' : 'pending',
      summary: summary && { ...summary, request: scrub(summary.request) },
      error: last && kind !== 'permanent' ? `gave up after ${attempt} attempts: ${message}` : message,
      retryAfterMs: e instanceof ActionError ? e.retryAfterMs : undefined,
    };
  }
}

/**
 * What is kept of a request (its line, the error) outlives the erasure: it
 * must not quote the personal values the request carried (an email in the
 * path, say), as typed or URL-encoded.
 */
function forget(text: string | null, personal: readonly string[]): string | null {
  if (text === null) return null;
  const values = personal.flatMap((v) => [v, encodeURIComponent(v)]).sort((a, b) => b.length - a.length);
  return maskText(values.reduce((t, v) => (t.includes(v) ? t.split(v).join(ERASED) : t), text));
}

/** One tick: the due erasure requests, sent and recorded. Returns how many were attempted. */
export async function stepErasureActions(db: Db, project: Project, log: Logger, secrets?: ConnectorSecrets, now = Date.now): Promise<number> {
  const due = await dueErasureActions(db, now(), ERASURE_BATCH);
  for (const a of due) {
    const erasure = await getErasure(db, a.erasureId);
    const traceId = erasure?.traceId ?? '0'.repeat(32);
    const o = await send(a, project, log, traceId, secrets);
    const at = now();
    const attempts = a.attempts + 1;
    const nextAt = o.status === 'pending' ? at + retryDelay(RETRY, attempts, o.retryAfterMs) : at;
    await db.tx(async (q) => {
      await finishErasureAttempt(q, a.id, {
        status: o.status,
        attempts,
        nextAt,
        request: forget(o.summary?.request ?? null, a.personal),
        lastStatus: o.summary?.status ?? null,
        error: forget(o.error, a.personal),
        now: at,
      });
      await settleErasure(q, a.erasureId, at);
    });
    if (o.status === 'failed') log.warn({ trace_id: traceId, erasure_id: a.erasureId, system: a.system, err: forget(o.error, a.personal) }, 'erasure request failed');
    else if (o.status === 'done') log.info({ trace_id: traceId, erasure_id: a.erasureId, system: a.system }, 'erasure request done');
  }
  // A finished request's input (it may name the customer) was just cleared: leave no old copy of it in SQLite's log.
  if (due.length > 0) await compactSqlite(db);
  return due.length;
}
