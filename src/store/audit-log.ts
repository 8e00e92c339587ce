import type { Param, Queryable } from './db.js';

/** One row of the append-only audit log. There is deliberately no update or delete here. */
export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
  ip: string | null;
  userAgent: string | null;
}

export interface NewAuditRow {
  at: number;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown> | null;
  ip: string | null;
  userAgent: string | null;
}

export async function insertAuditRow(q: Queryable, r: NewAuditRow): Promise<void> {
  await q.run('INSERT INTO audit_log (at, actor, action, target, detail, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)', [
    r.at,
    r.actor,
    r.action,
    r.target,
    r.detail === null ? null : JSON.stringify(r.detail),
    r.ip,
    r.userAgent,
  ]);
}

export interface AuditFilter {
  actor?: string;
  /** An exact action (`token.create`) or a family ending in a dot (`token.`). */
  action?: string;
  target?: string;
  since?: number;
  before?: number;
  beforeId?: number;
  limit: number;
}

interface Row {
  id: number | string;
  at: number | string;
  actor: string;
  action: string;
  target: string | null;
  detail: string | null;
  ip: string | null;
  user_agent: string | null;
}

/** Newest first; `beforeId` pages on (the id of the last row of the previous page). */
export async function listAuditRows(q: Queryable, f: AuditFilter): Promise<AuditRow[]> {
  const where: string[] = [];
  const params: Param[] = [];
  if (f.actor !== undefined) {
    where.push('actor = ?');
    params.push(f.actor);
  }
  if (f.action !== undefined) {
    if (f.action.endsWith('.')) {
      // A prefix range, not LIKE: no escaping of `_` and `%` to get wrong.
      where.push('action >= ? AND action < ?');
      params.push(f.action, `${f.action.slice(0, -1)}/`);
    } else {
      where.push('action = ?');
      params.push(f.action);
    }
  }
  if (f.target !== undefined) {
    where.push('target = ?');
    params.push(f.target);
  }
  if (f.since !== undefined) {
    where.push('at >= ?');
    params.push(f.since);
  }
  if (f.before !== undefined) {
    where.push('at < ?');
    params.push(f.before);
  }
  if (f.beforeId !== undefined) {
    where.push('id < ?');
    params.push(f.beforeId);
  }
  params.push(f.limit);
  const rows = await q.all<Row>(
    `SELECT id, at, actor, action, target, detail, ip, user_agent FROM audit_log${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
    params,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    actor: r.actor,
    action: r.action,
    target: r.target,
    detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
    ip: r.ip,
    userAgent: r.user_agent,
  }));
}
