import type { Project } from '../config/load.js';
import type { Delivery, SyncState } from '../store/deliveries.js';
import type { StoredRecord, Xref } from '../store/records.js';

/**
 * The sync ledger: for one record and each system, does that system have it?
 * Derived, never stored twice: from the latest delivery of each flow to the
 * system, the per-flow sync state, the cross-references and refusals.
 */
export const LEDGER_STATES = ['in_sync', 'pending', 'retrying', 'dead', 'not_subscribed', 'refused', 'source'] as const;
export type LedgerStateName = (typeof LEDGER_STATES)[number];

export interface LedgerFlow {
  flow: string;
  state: Exclude<LedgerStateName, 'refused' | 'source'>;
  version: number | null;
  delivery_id: number | null;
  attempt: number | null;
  next_at: string | null;
  error: string | null;
  at: string | null;
}

export interface LedgerEntry {
  system: string;
  state: LedgerStateName;
  /** The version this system has (in sync), or is being sent (pending, retrying, dead). */
  version: number | null;
  external_id: string | null;
  at: string | null;
  attempt: number | null;
  next_at: string | null;
  error: string | null;
  flows: LedgerFlow[];
}

const SEVERITY: Record<LedgerFlow['state'], number> = { dead: 4, retrying: 3, pending: 2, in_sync: 1, not_subscribed: 0 };
const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

function flowState(flow: string, latest: Delivery | undefined, synced: SyncState | undefined): LedgerFlow {
  const base = { flow, delivery_id: latest?.id ?? null, attempt: null, next_at: null, error: null };
  if (!latest || latest.status === 'done' || latest.status === 'superseded') {
    if (synced) return { ...base, state: 'in_sync', version: synced.version, at: iso(synced.at), delivery_id: synced.deliveryId };
    return { ...base, state: 'not_subscribed', version: null, at: null, error: latest ? null : 'no change of this record matched the flow' };
  }
  switch (latest.status) {
    case 'dead':
      return { ...base, state: 'dead', version: latest.version, attempt: latest.attempts, error: latest.lastError, at: iso(latest.updatedAt) };
    case 'retrying':
      return { ...base, state: 'retrying', version: latest.version, attempt: latest.attempts, next_at: iso(latest.nextAt), error: latest.lastError, at: iso(latest.updatedAt) };
    default:
      // pending, or leased (an attempt in flight)
      return { ...base, state: 'pending', version: latest.version, attempt: latest.attempts || null, error: latest.lastError, at: iso(latest.createdAt) };
  }
}

export function syncLedger(
  project: Project,
  record: StoredRecord,
  deliveries: readonly Delivery[],
  synced: readonly SyncState[],
  xrefs: readonly Xref[],
  refusals: ReadonlyArray<{ system: string; reason: string; at: number }>,
): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (const system of project.systems.values()) {
    const flows = [...project.flows.values()].filter((f) => f.system === system.name && f.entity === record.entity);
    const xref = xrefs.find((x) => x.system === system.name);
    const refusal = refusals.find((r) => r.system === system.name);
    const entry: LedgerEntry = {
      system: system.name,
      state: 'not_subscribed',
      version: null,
      external_id: xref?.externalId ?? null,
      at: null,
      attempt: null,
      next_at: null,
      error: null,
      flows: [],
    };
    if (flows.length > 0) {
      entry.flows = flows.map((f) =>
        flowState(
          f.name,
          deliveries.find((d) => d.flow === f.name),
          synced.find((s) => s.flow === f.name),
        ),
      );
      const worst = entry.flows.reduce((a, b) => (SEVERITY[b.state] > SEVERITY[a.state] ? b : a));
      Object.assign(entry, { state: worst.state, version: worst.version, at: worst.at, attempt: worst.attempt, next_at: worst.next_at, error: worst.error });
      if (worst.state === 'in_sync') {
        entry.version = Math.min(...entry.flows.filter((f) => f.state === 'in_sync').map((f) => f.version ?? 0));
      }
    } else if (xref) {
      // The record reached the hub from this system: it has it by definition.
      Object.assign(entry, { state: 'source', at: iso(xref.createdAt) });
    }
    if (refusal && entry.state === 'not_subscribed') {
      Object.assign(entry, { state: 'refused', error: refusal.reason, at: iso(refusal.at) });
    }
    entries.push(entry);
  }
  return entries;
}
