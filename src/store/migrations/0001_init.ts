/**
 * The foundation tables. Times are epoch milliseconds (BIGINT); JSON is
 * stored as text in both dialects so rows read back identically.
 */
const common = (id: string, bigint: string) => `
CREATE TABLE systems (
  name          TEXT PRIMARY KEY,
  kind          TEXT NOT NULL,
  api_key_hash  TEXT,
  config        TEXT NOT NULL,
  created_at    ${bigint} NOT NULL,
  updated_at    ${bigint} NOT NULL
);

-- Raw inbound messages, committed before the sender gets its 2xx.
CREATE TABLE inbox (
  id            ${id},
  system        TEXT NOT NULL,
  topic         TEXT NOT NULL,
  event_id      TEXT,
  status        TEXT NOT NULL,
  content_type  TEXT NOT NULL,
  body          TEXT NOT NULL,
  trace_id      TEXT NOT NULL,
  error         TEXT,
  attempts      INTEGER NOT NULL DEFAULT 0,
  received_at   ${bigint} NOT NULL,
  processed_at  ${bigint}
);
-- One source event is processed once.
CREATE UNIQUE INDEX inbox_event ON inbox (system, event_id);
-- The normalizer's queue: only unprocessed rows are in this index.
CREATE INDEX inbox_pending ON inbox (id) WHERE status = 'received';
CREATE INDEX inbox_trace ON inbox (trace_id);
CREATE INDEX inbox_failed ON inbox (system, id) WHERE status = 'failed';

CREATE TABLE records (
  id            TEXT PRIMARY KEY,
  entity        TEXT NOT NULL,
  version       INTEGER NOT NULL,
  data          TEXT NOT NULL,
  hash          TEXT NOT NULL,
  owner         TEXT,
  updated_by    TEXT NOT NULL,
  deleted       INTEGER NOT NULL DEFAULT 0,
  created_at    ${bigint} NOT NULL,
  updated_at    ${bigint} NOT NULL
);
CREATE INDEX records_updated ON records (entity, updated_at, id);

CREATE TABLE record_history (
  record_id     TEXT NOT NULL,
  version       INTEGER NOT NULL,
  data          TEXT NOT NULL,
  hash          TEXT NOT NULL,
  kind          TEXT NOT NULL,
  system        TEXT NOT NULL,
  trace_id      TEXT NOT NULL,
  at            ${bigint} NOT NULL,
  PRIMARY KEY (record_id, version)
);

-- Cross-references: a canonical record and its id in each system, unique both ways.
CREATE TABLE xrefs (
  entity        TEXT NOT NULL,
  record_id     TEXT NOT NULL,
  system        TEXT NOT NULL,
  external_id   TEXT NOT NULL,
  created_at    ${bigint} NOT NULL,
  PRIMARY KEY (record_id, system)
);
CREATE UNIQUE INDEX xrefs_external ON xrefs (system, entity, external_id);

-- The outbox: one immutable row per record version, appended with it.
CREATE TABLE changes (
  id            ${id},
  record_id     TEXT NOT NULL,
  entity        TEXT NOT NULL,
  version       INTEGER NOT NULL,
  kind          TEXT NOT NULL,
  system        TEXT NOT NULL,
  trace_id      TEXT NOT NULL,
  inbox_id      ${bigint},
  at            ${bigint} NOT NULL
);
CREATE UNIQUE INDEX changes_record ON changes (record_id, version);
CREATE INDEX changes_trace ON changes (trace_id);
CREATE INDEX changes_at ON changes (at);

-- Writes that were not applied, and why (ownership, privacy).
CREATE TABLE refusals (
  id            ${id},
  inbox_id      ${bigint},
  system        TEXT NOT NULL,
  entity        TEXT NOT NULL,
  external_id   TEXT,
  record_id     TEXT,
  reason        TEXT NOT NULL,
  trace_id      TEXT NOT NULL,
  at            ${bigint} NOT NULL
);
CREATE INDEX refusals_record ON refusals (record_id);
CREATE INDEX refusals_inbox ON refusals (inbox_id);
`;

export default {
  id: 1,
  name: 'init',
  sqlite: common('INTEGER PRIMARY KEY AUTOINCREMENT', 'INTEGER'),
  postgres: common('BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', 'BIGINT'),
};
