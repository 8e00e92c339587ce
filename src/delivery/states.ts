/**
 * The closed set of delivery states and the moves allowed between them,
 * enforced here and nowhere else (see docs/architecture.md):
 *
 *   pending ──claim──▶ leased ──ok──▶ done
 *      ▲                 │ retryable error ──▶ retrying (next_at) ──due──▶ leased
 *      │                 │ permanent error / last attempt ──▶ dead ──replay──▶ pending
 *      │                 └ lease expired (worker died) ──▶ leased again by another worker
 *      └── a newer version of the same record for the same flow ──▶ superseded
 */
export const DELIVERY_STATUSES = ['pending', 'leased', 'retrying', 'done', 'dead', 'superseded'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const ALLOWED: Record<DeliveryStatus, readonly DeliveryStatus[]> = {
  pending: ['leased', 'superseded'],
  // leased → leased: an expired lease taken over by another worker; leased → pending: deferred without an attempt.
  leased: ['done', 'retrying', 'dead', 'superseded', 'leased', 'pending'],
  retrying: ['leased', 'superseded'],
  done: [],
  dead: ['pending', 'superseded'],
  superseded: [],
};

export function canMove(from: DeliveryStatus, to: DeliveryStatus): boolean {
  return ALLOWED[from].includes(to);
}

/** States still waiting for (or in) an attempt; a newer version supersedes the queued ones. */
export const LIVE_STATUSES: readonly DeliveryStatus[] = ['pending', 'retrying', 'leased'];
export const QUEUED_STATUSES: readonly DeliveryStatus[] = ['pending', 'retrying'];

export function isDeliveryStatus(s: string): s is DeliveryStatus {
  return (DELIVERY_STATUSES as readonly string[]).includes(s);
}
