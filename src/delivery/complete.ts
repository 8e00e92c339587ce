import type { Project } from '../config/load.js';
import { errorMessage, isCausewayError } from '../errors.js';
import { applyItems } from '../records/apply-items.js';
import type { ChangeListener } from '../records/write.js';
import { placeholders, type Queryable } from '../store/db.js';
import { readSystemStates, writeSystemState } from '../store/delivery-claim.js';
import { insertAttempts, upsertSyncStates, type Attempt, type SyncState } from '../store/deliveries.js';
import { insertAlert } from '../store/alerts.js';
import { retryDelay } from './backoff.js';
import type { AttemptOutcome, ExecutionResult } from './execute.js';

/** Disabled flows' deliveries wait this long before they are looked at again. */
const DISABLED_RECHECK_MS = 30_000;
const EXCERPT = 2048;

export interface Completed {
  result: ExecutionResult;
  /** What the delivery became. */
  status: 'done' | 'retrying' | 'dead' | 'pending';
  nextAt: number | null;
  error: string | null;
}

export interface CompleteOutcome {
  completed: Completed[];
  /** Results dropped because the lease was lost (another worker took the delivery over). */
  lostLeases: number;
  circuitsOpened: string[];
  circuitsClosed: string[];
}

export interface CompleteContext {
  project: Project;
  owner: string;
  onChange: ChangeListener;
  now: number;
}

/**
 * Commits a batch of attempt results in the caller's transaction: each
 * delivery's new state (guarded by the lease — this worker's, for this
 * attempt — so a worker that lost its lease changes nothing, nor does a
 * result of an earlier attempt the same worker took again), its attempt row, the sync state and write-back for
 * successes, a dead letter's alert, and each system's circuit breaker.
 */
export async function completeDeliveries(q: Queryable, results: readonly ExecutionResult[], ctx: CompleteContext): Promise<CompleteOutcome> {
  const { now } = ctx;
  const out: CompleteOutcome = { completed: [], lostLeases: 0, circuitsOpened: [], circuitsClosed: [] };
  const health = new Map<string, boolean[]>();
  // Attempt rows and sync states are written after the loop, a few multi-row statements for the batch.
  const attempts: Array<Omit<Attempt, 'id'>> = [];
  const synced: Array<SyncState & { recordId: string }> = [];
  // Each result's new state, in the batch's order; `applied` once its lease-guarded UPDATE changed the row.
  const planned: Array<{ r: ExecutionResult; outcome: AttemptOutcome; status: Completed['status']; nextAt: number | null; error: string | null; applied: boolean }> = [];
  // Successes take one UPDATE per (HTTP status, external id, attempt) — usually one for the batch — instead of one each.
  const doneGroups = new Map<string, { lastStatus: number | null; externalId: string | null; attempt: number; at: number[] }>();
  for (const r of results) {
    const d = r.delivery;
    if (r.outcome === 'deferred') {
      const res = await q.run(
        `UPDATE deliveries SET status = 'pending', attempts = attempts - 1, next_at = ?, lease_owner = NULL, updated_at = ? WHERE id = ? AND status = 'leased' AND lease_owner = ? AND attempts = ?`,
        [now + DISABLED_RECHECK_MS, now, d.id, ctx.owner, d.attempt],
      );
      if (res.changes === 1) out.completed.push({ result: r, status: 'pending', nextAt: now + DISABLED_RECHECK_MS, error: null });
      continue;
    }
    const flow = ctx.project.flows.get(d.flow);
    let status: Completed['status'];
    let error = r.error ?? null;
    let nextAt: number | null = null;
    if (r.outcome === 'ok') status = 'done';
    else if (r.outcome === 'permanent' || !flow) status = 'dead';
    else if (d.attempt >= flow.retry.attempts) {
      status = 'dead';
      error = `gave up after ${d.attempt} attempts: ${error ?? 'failed'}`;
    } else {
      status = 'retrying';
      nextAt = now + retryDelay(flow.retry, d.attempt, r.retryAfterMs);
    }

    let externalId = d.externalId;
    if (status === 'done' && r.writeback) {
      // A savepoint: a write-back the canonical model refuses must not undo the rest of the batch.
      await q.run('SAVEPOINT writeback');
      try {
        if (r.writeback.externalId !== undefined && r.writeback.externalId !== externalId) {
          await q.run(`INSERT INTO xrefs (entity, record_id, system, external_id, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
            d.entity,
            d.recordId,
            d.system,
            r.writeback.externalId,
            now,
          ]);
          externalId = r.writeback.externalId;
        }
        if (r.writeback.items.length > 0) {
          await applyItems(q, r.writeback.items, {
            system: d.system,
            traceId: d.traceId,
            inboxId: null,
            ownership: ctx.project.ownership,
            onChange: ctx.onChange,
          });
        }
        await q.run('RELEASE SAVEPOINT writeback');
      } catch (e) {
        await q.run('ROLLBACK TO SAVEPOINT writeback');
        await q.run('RELEASE SAVEPOINT writeback');
        const why = isCausewayError(e) && e.details ? `${e.message}: ${e.details.map((x) => `${x.path ?? ''} ${x.message}`).join('; ')}` : errorMessage(e);
        status = 'dead';
        error = `delivered, but the writeback failed: ${why}`;
      }
    }

    const plan = { r, outcome: r.outcome, status, nextAt, error, applied: false };
    planned.push(plan);
    if (status === 'done') {
      const lastStatus = r.summary?.status ?? null;
      const key = `${lastStatus}\u0000${externalId ?? '\u0001'}\u0000${d.attempt}`;
      const g = doneGroups.get(key);
      if (g) g.at.push(planned.length - 1);
      else doneGroups.set(key, { lastStatus, externalId, attempt: d.attempt, at: [planned.length - 1] });
      continue;
    }
    const res = await q.run(
      `UPDATE deliveries SET status = ?, next_at = ?, lease_owner = NULL, last_error = ?, last_status = ?, external_id = ?, updated_at = ?, done_at = ?
       WHERE id = ? AND status = 'leased' AND lease_owner = ? AND attempts = ?`,
      [status, nextAt ?? now, error?.slice(0, 2000) ?? null, r.summary?.status ?? null, externalId, now, null, d.id, ctx.owner, d.attempt],
    );
    plan.applied = res.changes === 1;
  }
  for (const g of doneGroups.values()) {
    for (let i = 0; i < g.at.length; i += 500) {
      const chunk = g.at.slice(i, i + 500);
      const ids = chunk.map((k) => planned[k]!.r.delivery.id);
      // The same lease guard as one by one: only rows still leased by this worker for this attempt change, and RETURNING says which.
      const changed = await q.all<{ id: number }>(
        `UPDATE deliveries SET status = 'done', next_at = ?, lease_owner = NULL, last_error = NULL, last_status = ?, external_id = ?, updated_at = ?, done_at = ?
         WHERE id IN (${placeholders(ids.length)}) AND status = 'leased' AND lease_owner = ? AND attempts = ? RETURNING id`,
        [now, g.lastStatus, g.externalId, now, now, ...ids, ctx.owner, g.attempt],
      );
      const ok = new Set(changed.map((c) => Number(c.id)));
      for (const k of chunk) if (ok.has(planned[k]!.r.delivery.id)) planned[k]!.applied = true;
    }
  }
  for (const { r, outcome, status, nextAt, error, applied } of planned) {
    const d = r.delivery;
    if (!applied) {
      // Our lease expired and another worker has the delivery now; its attempt will be recorded instead.
      out.lostLeases++;
      continue;
    }
    attempts.push({
      deliveryId: d.id,
      attempt: d.attempt,
      startedAt: r.startedAt,
      durationMs: r.durationMs,
      outcome,
      status: r.summary?.status ?? null,
      request: r.summary?.request ?? null,
      response: r.summary?.response?.slice(0, EXCERPT) ?? null,
      error: r.error?.slice(0, 2000) ?? null,
      worker: ctx.owner,
    });
    if (status === 'done') {
      synced.push({ recordId: d.recordId, flow: d.flow, system: d.system, version: d.version, deliveryId: d.id, at: now });
    }
    if (status === 'dead') {
      await insertAlert(q, {
        kind: 'dead_letter',
        system: d.system,
        flow: d.flow,
        deliveryId: d.id,
        message: `delivery ${d.id} of ${d.entity} ${d.recordId} v${d.version} to ${d.system} (flow ${d.flow}) is a dead letter: ${error ?? 'failed'}`,
        at: now,
      });
    }
    // The circuit counts the destination's health: it failed (retryable), or it answered (even a 4xx).
    // A mapping error never reached it and says nothing about it.
    const answered = outcome === 'ok' || (outcome === 'permanent' && r.summary?.status !== undefined);
    if (answered || outcome === 'retryable') health.set(d.system, [...(health.get(d.system) ?? []), answered]);
    out.completed.push({ result: r, status, nextAt, error });
  }
  await insertAttempts(q, attempts);
  await upsertSyncStates(q, synced);
  if (health.size > 0) await updateCircuits(q, health, ctx, out);
  return out;
}

async function updateCircuits(q: Queryable, health: Map<string, boolean[]>, ctx: CompleteContext, out: CompleteOutcome): Promise<void> {
  const states = await readSystemStates(q, true);
  for (const [system, outcomes] of health) {
    const st = states.get(system);
    const cfg = ctx.project.systems.get(system)?.delivery;
    if (!st || !cfg) continue;
    const before = { circuit: st.circuit, failures: st.failures };
    for (const ok of outcomes) {
      if (ok) {
        st.failures = 0;
        st.circuit = 'closed';
        st.openedAt = null;
        st.probeUntil = null;
        continue;
      }
      st.failures++;
      if (st.circuit === 'half_open' || (st.circuit === 'closed' && st.failures >= cfg.circuit.failures)) {
        st.circuit = 'open';
        st.openedAt = ctx.now;
        st.probeUntil = null;
      }
    }
    if (before.circuit !== st.circuit || before.failures !== st.failures) await writeSystemState(q, st, ctx.now);
    if (st.circuit === 'open' && before.circuit !== 'open') {
      out.circuitsOpened.push(system);
      await insertAlert(q, {
        kind: 'circuit_open',
        system,
        flow: null,
        deliveryId: null,
        message: `the circuit for ${system} opened after ${st.failures} failures in a row; deliveries wait ${Math.round(cfg.circuit.cooldownMs / 1000)} s before a probe`,
        at: ctx.now,
      });
    }
    if (st.circuit === 'closed' && before.circuit !== 'closed') out.circuitsClosed.push(system);
  }
}
