import type { Attempt, Delivery } from './deliveries.js';
import type { Queryable } from './db.js';

const iso = (ms: number) => new Date(ms).toISOString();

export interface TimelineEntry {
  at: string;
  event: string;
  detail: string;
  ref: string;
}

/**
 * What one trace id touched, each read through its own trace index (inbox,
 * changes, refusals, deliveries), so a trace is fast on a store of millions
 * of rows.
 */
export async function traceEvents(q: Queryable, traceId: string) {
  const [inbox, changes, refusals] = await Promise.all([
    q.all<{ id: number; system: string; topic: string; status: string; error: string | null; received_at: number; processed_at: number | null }>(
      'SELECT id, system, topic, status, error, received_at, processed_at FROM inbox WHERE trace_id = ? ORDER BY id LIMIT 100',
      [traceId],
    ),
    q.all<{ id: number; record_id: string; entity: string; version: number; kind: string; system: string; at: number }>(
      'SELECT id, record_id, entity, version, kind, system, at FROM changes WHERE trace_id = ? ORDER BY id LIMIT 500',
      [traceId],
    ),
    q.all<{ system: string; entity: string; external_id: string | null; record_id: string | null; reason: string; at: number }>(
      'SELECT system, entity, external_id, record_id, reason, at FROM refusals WHERE trace_id = ? ORDER BY id LIMIT 100',
      [traceId],
    ),
  ]);
  return {
    inbox: inbox.map((m) => ({ id: m.id, system: m.system, topic: m.topic, status: m.status, error: m.error, received_at: iso(m.received_at), processed_at: m.processed_at === null ? null : iso(m.processed_at) })),
    changes: changes.map((c) => ({ id: c.id, record_id: c.record_id, entity: c.entity, version: c.version, kind: c.kind, system: c.system, at: iso(c.at) })),
    refusals: refusals.map((r) => ({ ...r, at: iso(r.at) })),
    /** One readable, time-ordered list of everything above plus the deliveries and attempts. */
    timeline(attempts: readonly Attempt[], deliveries: readonly Delivery[]): TimelineEntry[] {
      const out: Array<TimelineEntry & { t: number }> = [];
      for (const m of inbox) {
        out.push({ t: m.received_at, at: iso(m.received_at), event: 'received', detail: `${m.system}/${m.topic}`, ref: `inbox:${m.id}` });
        if (m.processed_at !== null) {
          out.push({ t: m.processed_at, at: iso(m.processed_at), event: m.status === 'failed' ? 'normalize_failed' : 'normalized', detail: m.error ?? `${m.system}/${m.topic}`, ref: `inbox:${m.id}` });
        }
      }
      for (const c of changes) out.push({ t: c.at, at: iso(c.at), event: c.kind, detail: `${c.entity} ${c.record_id} v${c.version} by ${c.system}`, ref: `change:${c.id}` });
      for (const r of refusals) out.push({ t: r.at, at: iso(r.at), event: 'refused', detail: `${r.entity} from ${r.system}: ${r.reason}`, ref: `record:${r.record_id ?? '-'}` });
      for (const d of deliveries) {
        out.push({ t: d.createdAt, at: iso(d.createdAt), event: 'queued', detail: `flow ${d.flow} → ${d.system} (${d.entity} ${d.recordId} v${d.version})`, ref: `delivery:${d.id}` });
        if (d.status === 'dead' || d.status === 'superseded') {
          out.push({ t: d.updatedAt, at: iso(d.updatedAt), event: d.status, detail: d.lastError ?? `flow ${d.flow}`, ref: `delivery:${d.id}` });
        }
      }
      for (const a of attempts) {
        const what = a.outcome === 'ok' ? 'delivered' : a.outcome === 'retryable' ? 'attempt_failed' : 'attempt_refused';
        out.push({ t: a.startedAt, at: iso(a.startedAt), event: what, detail: `attempt ${a.attempt}${a.status ? ` → ${a.status}` : ''}${a.error ? `: ${a.error}` : ''} (${a.durationMs} ms)`, ref: `delivery:${a.deliveryId}` });
      }
      out.sort((a, b) => a.t - b.t);
      return out.map(({ t: _t, ...e }) => e);
    },
  };
}
