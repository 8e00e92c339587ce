/**
 * The dashboard: indexes for the views that read across the whole store,
 * and report tables projected from the canonical records.
 *
 * Why projections: reports group 100k+ orders by day and channel. Reading
 * JSON out of every record on each request costs a parse per row; a narrow
 * table kept in step with each new version (src/reports/projection.ts, in
 * the record's own transaction) answers from an index instead. The tables
 * are filled here from the records that already exist, so a hub upgraded
 * with data has its reports at once.
 */
interface JsonSql {
  /** A text field of `data`. */
  text(field: string): string;
  /** An integer field of `data` (NULL when absent). */
  int(field: string): string;
}

const sqliteJson: JsonSql = {
  text: (f) => `json_extract(data, '$.${f}')`,
  int: (f) => `CAST(json_extract(data, '$.${f}') AS INTEGER)`,
};

const postgresJson: JsonSql = {
  text: (f) => `(data::jsonb ->> '${f}')`,
  int: (f) => `((data::jsonb ->> '${f}')::numeric)::bigint`,
};

const common = (bigint: string, j: JsonSql) => `
-- The activity view and stream: deliveries in the order they last moved.
CREATE INDEX deliveries_updated ON deliveries (updated_at, id);
-- Finding a record by any system's own id, without knowing the system or entity.
CREATE INDEX xrefs_external_id ON xrefs (external_id);
-- Latency (created → done) per flow for the p95: done rows of a flow in a time window.
CREATE INDEX deliveries_flow_done ON deliveries (flow, done_at) WHERE status = 'done';

CREATE TABLE report_orders (
  record_id   TEXT PRIMARY KEY,
  number      TEXT NOT NULL,
  channel     TEXT NOT NULL,
  status      TEXT NOT NULL,
  currency    TEXT NOT NULL,
  total       ${bigint} NOT NULL,
  day         TEXT NOT NULL,
  updated_at  ${bigint} NOT NULL
);
-- Covering: the orders report reads the index only.
CREATE INDEX report_orders_day ON report_orders (day, channel, currency, status, total);
CREATE INDEX report_orders_number ON report_orders (number);

CREATE TABLE report_stock (
  record_id   TEXT PRIMARY KEY,
  sku         TEXT NOT NULL,
  location    TEXT NOT NULL,
  on_hand     ${bigint} NOT NULL,
  available   ${bigint},
  reserved    ${bigint},
  updated_at  ${bigint} NOT NULL
);
-- Pages of the stock report continue from (sku, location, record_id).
CREATE INDEX report_stock_sku ON report_stock (sku, location, record_id);
CREATE INDEX report_stock_location ON report_stock (location, sku);

CREATE TABLE report_invoices (
  record_id   TEXT PRIMARY KEY,
  number      TEXT NOT NULL,
  status      TEXT NOT NULL,
  currency    TEXT NOT NULL,
  total       ${bigint} NOT NULL,
  amount_due  ${bigint} NOT NULL,
  customer_id TEXT,
  order_id    TEXT,
  due_at      TEXT,
  issued_at   TEXT,
  updated_at  ${bigint} NOT NULL
);
CREATE INDEX report_invoices_status ON report_invoices (status, due_at, record_id);
CREATE INDEX report_invoices_number ON report_invoices (number);

INSERT INTO report_orders (record_id, number, channel, status, currency, total, day, updated_at)
  SELECT id, ${j.text('number')}, COALESCE(${j.text('channel')}, 'unknown'), ${j.text('status')}, ${j.text('currency')},
         COALESCE(${j.int('total')}, 0), substr(${j.text('placed_at')}, 1, 10), updated_at
  FROM records WHERE entity = 'order' AND deleted = 0;

INSERT INTO report_stock (record_id, sku, location, on_hand, available, reserved, updated_at)
  SELECT id, ${j.text('sku')}, ${j.text('location')}, COALESCE(${j.int('on_hand')}, 0), ${j.int('available')}, ${j.int('reserved')}, updated_at
  FROM records WHERE entity = 'inventory_level' AND deleted = 0;

INSERT INTO report_invoices (record_id, number, status, currency, total, amount_due, customer_id, order_id, due_at, issued_at, updated_at)
  SELECT id, ${j.text('number')}, ${j.text('status')}, ${j.text('currency')}, COALESCE(${j.int('total')}, 0),
         COALESCE(${j.int('amount_due')}, ${j.int('total')}, 0), ${j.text('customer_id')}, ${j.text('order_id')},
         ${j.text('due_at')}, ${j.text('issued_at')}, updated_at
  FROM records WHERE entity = 'invoice' AND deleted = 0;
`;

export default {
  id: 7,
  name: 'dashboard',
  sqlite: common('INTEGER', sqliteJson),
  postgres: common('BIGINT', postgresJson),
};
