/**
 * Sources keep a durable cursor per (system, source), committed in the same
 * transaction as the messages it covers. Backfills are resumable jobs: their
 * position is committed with the deliveries each page queues.
 */
const common = (id: string, bigint: string) => `
CREATE TABLE source_cursors (
  system        TEXT NOT NULL,
  source        TEXT NOT NULL,
  cursor        TEXT NOT NULL,
  updated_at    ${bigint} NOT NULL,
  PRIMARY KEY (system, source)
);

CREATE TABLE backfills (
  id            ${id},
  system        TEXT NOT NULL,
  entity        TEXT,
  since         ${bigint},
  status        TEXT NOT NULL,
  total         INTEGER NOT NULL,
  queued        INTEGER NOT NULL DEFAULT 0,
  skipped       INTEGER NOT NULL DEFAULT 0,
  after_updated ${bigint},
  after_id      TEXT,
  entity_index  INTEGER NOT NULL DEFAULT 0,
  error         TEXT,
  created_at    ${bigint} NOT NULL,
  updated_at    ${bigint} NOT NULL,
  finished_at   ${bigint}
);
CREATE INDEX backfills_active ON backfills (system) WHERE status IN ('running', 'paused');

ALTER TABLE deliveries ADD COLUMN backfill_id ${bigint};
CREATE INDEX deliveries_backfill ON deliveries (backfill_id, status) WHERE backfill_id IS NOT NULL;
`;

export default {
  id: 3,
  name: 'sources_backfill',
  sqlite: common('INTEGER PRIMARY KEY AUTOINCREMENT', 'INTEGER'),
  postgres: common('BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', 'BIGINT'),
};
