import { userInfo } from 'node:os';
import type { Queryable } from '../store/db.js';
import { insertAuditRow } from '../store/audit-log.js';

/**
 * The audit log: who did what, to what, when and from where. Append-only
 * (the database refuses UPDATE and DELETE on it).
 *
 * Call it for every configuration change, secret, token, replay, backfill
 * and erasure action, and for every read of unmasked personal data. Pass the
 * transaction of the action when there is one, so the entry commits with it:
 *
 * ```ts
 * await audit(ctx.db, { ...actorOf(req), action: 'secret.set', target: 'erp/password' });
 * await ctx.db.tx(async (q) => { …; await audit(q, { actor: cliActor(), action: 'erasure.execute', target: recordId }); });
 * ```
 *
 * `detail` is for identifiers and counts, never for secret values or
 * personal data: it is stored as written (values under keys that look like
 * secrets are replaced by `[redacted]` as a safety net, not as the plan).
 */
export interface AuditEntry {
  /** `token:<name>`, `system:<name>`, `cli:<os user>` or `hub` (see actorOf / cliActor). */
  actor: string;
  /** `<area>.<verb>`, lower case: `token.create`, `delivery.replay`, … (AUDIT_ACTIONS lists ours). */
  action: string;
  /** What was acted on: an id or a name (`delivery 42`, `erp/password`). */
  target?: string | null;
  detail?: Record<string, unknown> | null;
  ip?: string | null;
  userAgent?: string | null;
  /** Epoch ms; default now. */
  at?: number;
}

/** The actions the hub itself writes; other areas add theirs in the same `<area>.<verb>` form. */
export const AUDIT_ACTIONS = [
  'token.create',
  'token.revoke',
  'config.reload',
  'delivery.replay',
  'dead_letters.replay',
  'flow.rerun',
  'inbox.retry',
  'backfill.start',
  'backfill.pause',
  'backfill.resume',
  'record.write',
  'personal_data.read',
  'secret.set',
  'secret.delete',
  'secret.rotate_key',
  'erasure.execute',
] as const;

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const SECRET_KEY = /secret|password|passwd|token_value|api_?key|authorization|private_?key|^token$/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY.test(k) && v !== null && typeof v !== 'boolean' ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

const MAX_TEXT = 512;
const clip = (s: string | null | undefined): string | null => (s === undefined || s === null ? null : s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s);

export async function audit(q: Queryable, e: AuditEntry): Promise<void> {
  if (!ACTION.test(e.action)) throw new Error(`audit action must look like area.verb: ${e.action}`);
  await insertAuditRow(q, {
    at: e.at ?? Date.now(),
    actor: clip(e.actor) ?? 'unknown',
    action: e.action,
    target: clip(e.target),
    detail: e.detail ? (redact(e.detail) as Record<string, unknown>) : null,
    ip: clip(e.ip),
    userAgent: clip(e.userAgent),
  });
}

/** The actor for a command run on this machine against the database directly. */
export function cliActor(): string {
  let user = process.env['USER'] ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep $USER
  }
  return `cli:${user}`;
}

/** Actions the hub takes on its own (first-start token, configuration reload). */
export const HUB_ACTOR = 'hub';
