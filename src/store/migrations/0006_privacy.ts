/**
 * Privacy: raw payloads are purged after the project's retention, and a
 * customer can be erased.
 *
 * `purged_at` marks an inbox message or an attempt whose raw payload was
 * removed (by retention or by an erasure). The partial indexes hold only the
 * rows not yet purged, ordered by age, so the leader's purge finds the next
 * small batch without scanning what it already did.
 *
 * An erasure is one row per subject (customer) — asking twice is the same
 * erasure — with one row per system that holds the subject: the erasure
 * action sent there and its outcome. `input` keeps what the action needs
 * (it may name the customer) only until the action is done.
 */
const common = (id: string, bigint: string) => `
ALTER TABLE inbox ADD COLUMN purged_at ${bigint};
CREATE INDEX inbox_unpurged ON inbox (received_at, id) WHERE purged_at IS NULL;

ALTER TABLE attempts ADD COLUMN purged_at ${bigint};
CREATE INDEX attempts_unpurged ON attempts (started_at, id) WHERE purged_at IS NULL;

CREATE TABLE erasures (
  id              ${id},
  entity          TEXT NOT NULL,
  subject_id      TEXT NOT NULL,
  status          TEXT NOT NULL,
  records         TEXT NOT NULL,
  inbox_purged    INTEGER NOT NULL DEFAULT 0,
  attempts_purged INTEGER NOT NULL DEFAULT 0,
  requested_by    TEXT NOT NULL,
  trace_id        TEXT NOT NULL,
  created_at      ${bigint} NOT NULL,
  updated_at      ${bigint} NOT NULL,
  finished_at     ${bigint}
);
CREATE UNIQUE INDEX erasures_subject ON erasures (entity, subject_id);

CREATE TABLE erasure_actions (
  id              ${id},
  erasure_id      ${bigint} NOT NULL,
  system          TEXT NOT NULL,
  action          TEXT,
  external_id     TEXT,
  status          TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_at         ${bigint} NOT NULL,
  input           TEXT,
  request         TEXT,
  last_status     INTEGER,
  error           TEXT,
  created_at      ${bigint} NOT NULL,
  updated_at      ${bigint} NOT NULL,
  done_at         ${bigint}
);
CREATE UNIQUE INDEX erasure_actions_system ON erasure_actions (erasure_id, system);
CREATE INDEX erasure_actions_due ON erasure_actions (next_at, id) WHERE status = 'pending';
`;

export default {
  id: 6,
  name: 'privacy',
  sqlite: common('INTEGER PRIMARY KEY AUTOINCREMENT', 'INTEGER'),
  postgres: common('BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', 'BIGINT'),
};
