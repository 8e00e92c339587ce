import type { Queryable } from './db.js';

// credentials_revoked: an OAuth refresh token was refused (invalid_grant); deliveries to the system wait until a new one is set.
export const ALERT_KINDS = ['dead_letter', 'circuit_open', 'credentials_revoked'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface NewAlert {
  kind: AlertKind;
  system: string | null;
  flow: string | null;
  deliveryId: number | null;
  message: string;
  at: number;
}

export interface Alert extends NewAlert {
  id: number;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  lastError: string | null;
}

/** Queued in the transaction that caused it; the leader sends it (see delivery/alerts.ts). */
export async function insertAlert(q: Queryable, a: NewAlert): Promise<void> {
  await q.run(
    `INSERT INTO alerts (kind, system, flow, delivery_id, message, status, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
    [a.kind, a.system, a.flow, a.deliveryId, a.message, a.at, a.at],
  );
}

interface AlertRow {
  id: number;
  kind: AlertKind;
  system: string | null;
  flow: string | null;
  delivery_id: number | null;
  message: string;
  status: Alert['status'];
  attempts: number;
  last_error: string | null;
  created_at: number;
}

function fromRow(r: AlertRow): Alert {
  return {
    id: r.id,
    kind: r.kind,
    system: r.system,
    flow: r.flow,
    deliveryId: r.delivery_id,
    message: r.message,
    at: r.created_at,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
  };
}

export async function dueAlerts(q: Queryable, now: number, limit: number): Promise<Alert[]> {
  const rows = await q.all<AlertRow>(`SELECT * FROM alerts WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`, [now, limit]);
  return rows.map(fromRow);
}

export async function listAlerts(q: Queryable, limit: number): Promise<Alert[]> {
  const rows = await q.all<AlertRow>(`SELECT * FROM alerts ORDER BY id DESC LIMIT ?`, [limit]);
  return rows.map(fromRow);
}

export async function markAlert(q: Queryable, id: number, r: { sent: true; at: number } | { sent: false; error: string; nextAt: number; giveUp: boolean }): Promise<void> {
  if (r.sent) {
    await q.run(`UPDATE alerts SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE id = ?`, [r.at, id]);
  } else {
    await q.run(`UPDATE alerts SET status = ?, attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?`, [
      r.giveUp ? 'failed' : 'pending',
      r.nextAt,
      r.error.slice(0, 1000),
      id,
    ]);
  }
}
