import type { Flow } from '../flows/compile.js';
import type { Db } from '../store/db.js';
import { enqueueDelivery } from '../store/deliveries.js';
import type { ChangeKind } from '../store/records.js';

const PAGE = 1000;

interface ChangeRow {
  id: number;
  record_id: string;
  entity: string;
  version: number;
  kind: ChangeKind;
  system: string;
  trace_id: string;
  at: number;
  data: string;
}

/**
 * Runs a flow again over the changes of its entity in [since, until), e.g.
 * after its mapping was fixed. The same rules as routing apply (kinds,
 * origin, filter on the version's own data); each queued delivery carries its
 * version's idempotency key, and several versions of one record coalesce to
 * the newest. Works in pages, one transaction each, so a large range never
 * holds a long lock.
 */
export async function rerunFlow(db: Db, flow: Flow, since: number, until: number): Promise<{ changes: number; queued: number }> {
  let changes = 0;
  let queued = 0;
  let after: { at: number; id: number } = { at: since, id: 0 };
  for (;;) {
    const rows = await db.all<ChangeRow>(
      `SELECT c.id, c.record_id, c.entity, c.version, c.kind, c.system, c.trace_id, c.at, h.data
       FROM changes c JOIN record_history h ON h.record_id = c.record_id AND h.version = c.version
       WHERE c.entity = ? AND c.at < ? AND (c.at > ? OR (c.at = ? AND c.id > ?))
       ORDER BY c.at, c.id LIMIT ?`,
      [flow.entity, until, after.at, after.at, after.id, PAGE],
    );
    if (rows.length === 0) break;
    const now = Date.now();
    queued += await db.tx(async (q) => {
      let n = 0;
      for (const c of rows) {
        if (!flow.on.has(c.kind)) continue;
        if (!flow.includeOrigin && c.system === flow.system) continue;
        if (flow.filter) {
          const data = JSON.parse(c.data) as unknown;
          const v = await flow.filter.evaluate(data, { id: c.record_id, entity: c.entity, version: c.version, kind: c.kind, system: c.system }).catch(() => true);
          if (v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0)) continue;
        }
        await enqueueDelivery(q, {
          flow: flow.name,
          system: flow.system,
          recordId: c.record_id,
          entity: c.entity,
          version: c.version,
          changeId: c.id,
          traceId: c.trace_id,
          cause: 'rerun',
          at: now,
        });
        n++;
      }
      return n;
    });
    changes += rows.length;
    const last = rows[rows.length - 1] as ChangeRow;
    after = { at: last.at, id: last.id };
    if (rows.length < PAGE) break;
  }
  return { changes, queued };
}
