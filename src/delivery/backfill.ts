import type { Logger } from 'pino';
import type { Project } from '../config/load.js';
import type { Flow } from '../flows/compile.js';
import { errorMessage } from '../errors.js';
import { newTraceId } from '../ids.js';
import type { Db, Param } from '../store/db.js';
import { activeBackfills, backfillProgress, getBackfill, insertBackfill, saveBackfillPosition, setBackfillStatus, type Backfill } from '../store/backfills.js';
import { enqueueDelivery } from '../store/deliveries.js';

/** Records looked at per page; each page is one transaction. */
const PAGE = 500;

/** The flows a backfill sends through: the system's enabled flows, optionally for one entity. */
export function backfillFlows(project: Project, system: string, entity: string | null): Flow[] {
  return [...project.flows.values()].filter((f) => f.system === system && f.enabled && (entity === null || f.entity === entity));
}

function entitiesOf(flows: readonly Flow[]): string[] {
  return [...new Set(flows.map((f) => f.entity))].sort();
}

/**
 * Starts a backfill: every existing record a newly connected system should
 * have is sent to it through its flows. Resumes a running or paused one with
 * the same parameters rather than starting a second.
 */
export async function startBackfill(db: Db, project: Project, p: { system: string; entity: string | null; since: number | null }): Promise<{ id: number; resumed: boolean }> {
  const flows = backfillFlows(project, p.system, p.entity);
  const entities = entitiesOf(flows);
  const now = Date.now();
  return db.tx(async (q) => {
    const existing = (await activeBackfills(q)).find((b) => b.system === p.system && b.entity === p.entity && b.since === p.since);
    if (existing) {
      if (existing.status === 'paused') await setBackfillStatus(q, existing.id, 'running', now);
      return { id: existing.id, resumed: true };
    }
    let total = 0;
    for (const e of entities) {
      const params: Param[] = [e];
      if (p.since !== null) params.push(p.since);
      const r = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM records WHERE entity = ? AND deleted = 0${p.since !== null ? ' AND updated_at >= ?' : ''}`, params);
      total += Number(r?.n ?? 0);
    }
    return { id: await insertBackfill(q, { system: p.system, entity: p.entity, since: p.since, total, at: now }), resumed: false };
  });
}

interface RecordRow {
  id: string;
  entity: string;
  version: number;
  data: string;
  updated_at: number;
}

/**
 * One step of every running backfill (the leader calls this each tick).
 * Pacing: a backfill queues more only while few of its deliveries are still
 * waiting, so the destination's rate limit (applied when deliveries are
 * claimed) sets the pace and the queue stays short. Resumable: the position
 * is committed with the deliveries each page queues. A record the system
 * already has at its current version (per-flow sync state) is skipped, so a
 * resumed or repeated backfill never resends what was done.
 */
export async function stepBackfills(db: Db, project: Project, log: Logger): Promise<void> {
  for (const b of await activeBackfills(db)) {
    if (b.status !== 'running') continue;
    try {
      // A few pages per tick while the destination keeps up; the window check inside stops it early.
      for (let i = 0; i < 20 && (await stepOne(db, project, b)); i++);
    } catch (e) {
      log.error({ backfill_id: b.id, err: errorMessage(e) }, 'backfill step failed; will retry');
    }
  }
}

/** Queues one page; true when another page could be queued right away. */
async function stepOne(db: Db, project: Project, b0: Backfill): Promise<boolean> {
  const b = (await getBackfill(db, b0.id)) ?? b0;
  if (b.status !== 'running') return false;
  const flows = backfillFlows(project, b.system, b.entity);
  const entities = entitiesOf(flows);
  const system = project.systems.get(b.system);
  if (!system || flows.length === 0) {
    await setBackfillStatus(db, b.id, 'failed', Date.now(), `system ${b.system} has no enabled flows${b.entity ? ` for ${b.entity}` : ''}`);
    return false;
  }
  const progress = await backfillProgress(db, b.id);
  // Keep about two seconds of work (at the rate limit) or a few pages waiting; no more.
  const window = Math.max(200, Math.ceil((system.delivery.rateLimit?.perSecond ?? 1000) * 2));
  if (progress.pending >= window) return false;
  if (b.entityIndex >= entities.length) {
    if (progress.pending === 0) await setBackfillStatus(db, b.id, 'done', Date.now());
    return false;
  }
  const entity = entities[b.entityIndex] as string;
  const entityFlows = flows.filter((f) => f.entity === entity);
  const where: string[] = ['r.entity = ?', 'r.deleted = 0'];
  const params: Param[] = [entity];
  if (b.since !== null) {
    where.push('r.updated_at >= ?');
    params.push(b.since);
  }
  if (b.afterUpdated !== null && b.afterId !== null) {
    where.push('(r.updated_at > ? OR (r.updated_at = ? AND r.id > ?))');
    params.push(b.afterUpdated, b.afterUpdated, b.afterId);
  }
  params.push(Math.min(PAGE, window - progress.pending));
  const rows = await db.all<RecordRow>(
    `SELECT r.id, r.entity, r.version, r.data, r.updated_at FROM records r WHERE ${where.join(' AND ')} ORDER BY r.updated_at, r.id LIMIT ?`,
    params,
  );
  const now = Date.now();
  await db.tx(async (q) => {
    let queued = 0;
    let skipped = 0;
    for (const r of rows) {
      const synced = await q.all<{ flow: string; version: number }>('SELECT flow, version FROM sync_state WHERE record_id = ?', [r.id]);
      const traceId = newTraceId();
      for (const f of entityFlows) {
        if ((synced.find((s) => s.flow === f.name)?.version ?? 0) >= r.version) {
          skipped++;
          continue;
        }
        if (f.filter) {
          const v = await f.filter.evaluate(JSON.parse(r.data), { id: r.id, entity: r.entity, version: r.version, kind: 'created', system: '' }).catch(() => true);
          if (v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0)) {
            skipped++;
            continue;
          }
        }
        await enqueueDelivery(q, { flow: f.name, system: f.system, recordId: r.id, entity: r.entity, version: r.version, changeId: null, traceId, cause: 'backfill', at: now, backfillId: b.id });
        queued++;
      }
    }
    const last = rows[rows.length - 1];
    const exhausted = rows.length < Math.min(PAGE, window - progress.pending);
    await saveBackfillPosition(q, b.id, {
      queued,
      skipped,
      afterUpdated: exhausted ? null : (last?.updated_at ?? b.afterUpdated),
      afterId: exhausted ? null : (last?.id ?? b.afterId),
      entityIndex: exhausted ? b.entityIndex + 1 : b.entityIndex,
      at: now,
    });
  });
  return true;
}
