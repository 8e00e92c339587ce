/**
 * Flows and delivery: the durable jobs (deliveries), every attempt, the
 * per-flow sync state that the ledger reads, per-system health (circuit
 * breaker and the shared token bucket) and operator alerts.
 *
 * A delivery's `next_at` is when it is next due: for pending and retrying
 * rows the time to (re)try, for leased rows the end of the lease. One
 * partial index over the three live states therefore serves the claim
 * query, including leases that expired because their worker died.
 */
const common = (id: string, bigint: string, real: string) => `
CREATE TABLE deliveries (
  id              ${id},
  flow            TEXT NOT NULL,
  system          TEXT NOT NULL,
  record_id       TEXT NOT NULL,
  entity          TEXT NOT NULL,
  version         INTEGER NOT NULL,
  change_id       ${bigint},
  trace_id        TEXT NOT NULL,
  status          TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_at         ${bigint} NOT NULL,
  lease_owner     TEXT,
  idempotency_key TEXT NOT NULL,
  cause           TEXT NOT NULL,
  last_error      TEXT,
  last_status     INTEGER,
  external_id     TEXT,
  created_at      ${bigint} NOT NULL,
  updated_at      ${bigint} NOT NULL,
  done_at         ${bigint}
);
CREATE INDEX deliveries_due ON deliveries (next_at, id) WHERE status IN ('pending', 'retrying', 'leased');
CREATE INDEX deliveries_inflight ON deliveries (system) WHERE status = 'leased';
CREATE INDEX deliveries_record ON deliveries (record_id, flow, id);
CREATE INDEX deliveries_trace ON deliveries (trace_id);
CREATE INDEX deliveries_dead ON deliveries (updated_at, id) WHERE status = 'dead';
CREATE INDEX deliveries_flow ON deliveries (flow, created_at);

-- Every attempt of every delivery, for the trace and the dead-letter view.
CREATE TABLE attempts (
  id              ${id},
  delivery_id     ${bigint} NOT NULL,
  attempt         INTEGER NOT NULL,
  started_at      ${bigint} NOT NULL,
  duration_ms     INTEGER NOT NULL,
  outcome         TEXT NOT NULL,
  status          INTEGER,
  request         TEXT,
  response        TEXT,
  error           TEXT,
  worker          TEXT NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt);

-- Which version of a record each flow has delivered, and when.
CREATE TABLE sync_state (
  record_id       TEXT NOT NULL,
  flow            TEXT NOT NULL,
  system          TEXT NOT NULL,
  version         INTEGER NOT NULL,
  delivery_id     ${bigint} NOT NULL,
  at              ${bigint} NOT NULL,
  PRIMARY KEY (record_id, flow)
);

-- Per destination system: the circuit breaker and the token bucket, shared by every hub process.
CREATE TABLE system_state (
  system          TEXT PRIMARY KEY,
  circuit         TEXT NOT NULL,
  failures        INTEGER NOT NULL,
  opened_at       ${bigint},
  probe_until     ${bigint},
  tokens          ${real} NOT NULL,
  refilled_at     ${bigint} NOT NULL,
  updated_at      ${bigint} NOT NULL
);

-- Operator alerts (a delivery dead-lettered, a circuit opened), sent by the leader.
CREATE TABLE alerts (
  id              ${id},
  kind            TEXT NOT NULL,
  system          TEXT,
  flow            TEXT,
  delivery_id     ${bigint},
  message         TEXT NOT NULL,
  status          TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  next_at         ${bigint} NOT NULL,
  created_at      ${bigint} NOT NULL,
  sent_at         ${bigint}
);
CREATE INDEX alerts_pending ON alerts (next_at) WHERE status = 'pending';

CREATE INDEX refusals_trace ON refusals (trace_id);
`;

export default {
  id: 2,
  name: 'delivery',
  sqlite: common('INTEGER PRIMARY KEY AUTOINCREMENT', 'INTEGER', 'REAL'),
  postgres: common('BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', 'BIGINT', 'DOUBLE PRECISION'),
};
