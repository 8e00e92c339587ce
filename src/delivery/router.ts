import type { Project } from '../config/load.js';
import type { Flow } from '../flows/compile.js';
import type { ChangeListener } from '../records/write.js';
import { enqueueDelivery, idempotencyKey, type NewDelivery } from '../store/deliveries.js';
import type { ClaimedDelivery } from '../store/delivery-claim.js';
import type { HandoffTarget } from './handoff.js';
import { errorMessage } from '../errors.js';
import type { Queryable } from '../store/db.js';

/** JSONata truthiness for a filter's answer: empty things and false-y values do not match. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0 && v.some(truthy);
  return v !== undefined && v !== null && v !== false && v !== 0 && v !== '';
}

const byEntity = new WeakMap<Project, Map<string, Flow[]>>();

function flowsFor(project: Project, entity: string): Flow[] {
  let index = byEntity.get(project);
  if (!index) {
    index = new Map();
    for (const f of project.flows.values()) index.set(f.entity, [...(index.get(f.entity) ?? []), f]);
    byEntity.set(project, index);
  }
  return index.get(entity) ?? [];
}

/**
 * Routing: called in the transaction of every new record version, it queues
 * one delivery per matching flow — so a change and the deliveries it causes
 * commit together (transactional outbox). A change is not sent back to the
 * system that made it unless the flow says `include_origin`.
 *
 * A filter that throws does not block intake: the delivery is queued as a
 * dead letter with the error, visible and replayable once the filter is fixed.
 */
export function createRouter(project: () => Project, onQueued: () => void = () => undefined, handoff: () => HandoffTarget | undefined = () => undefined): ChangeListener {
  return async (q, change, record) => {
    const p = project();
    let queued = 0;
    // A record created in this transaction has no older delivery anywhere: its deliveries may go straight
    // to this process's worker (src/delivery/handoff.ts), if the writer collects them.
    const target = change.handoffs && change.kind === 'created' && record.version === 1 ? handoff() : undefined;
    let dataJson: string | undefined;
    for (const flow of flowsFor(p, record.entity)) {
      if (!flow.enabled || !flow.on.has(change.kind)) continue;
      if (!flow.includeOrigin && change.system === flow.system) continue;
      let filterError: string | undefined;
      if (flow.filter) {
        try {
          const v = await flow.filter.evaluate(record.data, { id: record.id, entity: record.entity, version: record.version, kind: change.kind, system: change.system });
          if (!truthy(v)) continue;
        } catch (e) {
          filterError = `filter failed: ${errorMessage(e)}`;
        }
      }
      const delivery: NewDelivery = {
        flow: flow.name,
        system: flow.system,
        recordId: record.id,
        entity: record.entity,
        version: record.version,
        changeId: change.id,
        traceId: change.traceId,
        cause: 'change',
        at: change.at,
        // A record created in this transaction has a fresh id: nothing of it is queued yet.
        supersede: !(change.kind === 'created' && record.version === 1),
      };
      if (target && !filterError && change.handoffs && target.take(flow.system)) {
        const leaseUntil = change.at + target.leaseMs(flow.name);
        let id: number;
        try {
          id = await enqueueDelivery(q, { ...delivery, leasedTo: { owner: target.owner, until: leaseUntil } });
        } catch (e) {
          target.giveBack([{ system: flow.system }]);
          throw e;
        }
        dataJson ??= change.dataJson ?? JSON.stringify(record.data);
        change.handoffs.push({
          id,
          flow: flow.name,
          system: flow.system,
          recordId: record.id,
          entity: record.entity,
          version: record.version,
          traceId: change.traceId,
          attempt: 1,
          idempotencyKey: idempotencyKey(flow.name, record.id, record.version),
          cause: 'change',
          dataJson,
          kind: 'created',
          externalId: null,
          leaseUntil,
        });
        continue;
      }
      const id = await enqueueDelivery(q, delivery);
      if (filterError) await markDeadAtOnce(q, id, filterError, change.at);
      else queued++;
    }
    if (queued > 0) onQueued();
  };
}

async function markDeadAtOnce(q: Queryable, id: number, error: string, at: number): Promise<void> {
  await q.run(`UPDATE deliveries SET status = 'dead', last_error = ?, updated_at = ? WHERE id = ?`, [error.slice(0, 2000), at, id]);
}
