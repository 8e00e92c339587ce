import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ENTITY_NAMES } from '../../canonical/index.js';

/**
 * The flow-test file format: a YAML list of test cases under `tests/`.
 *
 * An inbound case sends a payload through a system topic's mapping and
 * checks the canonical records it writes (and, optionally, what the flows
 * would send for them):
 *
 * ```yaml
 * - name: a store order becomes a customer and an order
 *   inbound: { system: store, topic: orders, payload: samples/store-order.json }
 *   expect:
 *     records:
 *       - { entity: order, external_id: "1001", data: { total: 5000 } }   # data: a subset
 *     deliveries:
 *       - { flow: order-to-erp, request: { method: PUT, path: /sales-orders/1001 } }
 * ```
 *
 * A flow case runs one flow on one canonical record and checks the action
 * input (exactly) and, for http and webhook actions, the request:
 *
 * ```yaml
 * - name: an order becomes a sales order
 *   flow: order-to-erp
 *   record: { id: ord_1, data: { number: "1001", … } }
 *   expect: { request: { method: PUT, path: /sales-orders/1001, body: { … } } }
 * ```
 *
 * `payload` and `record.data` may be a `.json` file, relative to the project.
 */

const Entity = Type.Union(ENTITY_NAMES.map((e) => Type.Literal(e)));
const Json = Type.Unknown();
const DataOrFile = Type.Union([Type.Record(Type.String(), Json), Type.String({ pattern: '\\.json$', description: 'a .json file, relative to the project' })]);

const ExpectedRequest = Type.Object(
  {
    method: Type.Optional(Type.String()),
    url: Type.Optional(Type.String()),
    path: Type.Optional(Type.String()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'these headers at least (names in any case)' })),
    body: Type.Optional(Json),
  },
  { additionalProperties: false },
);

const ExpectedRecord = Type.Object(
  {
    entity: Entity,
    external_id: Type.Union([Type.String({ minLength: 1 }), Type.Number()]),
    outcome: Type.Optional(Type.Union(['created', 'updated', 'deleted', 'unchanged', 'refused'].map((o) => Type.Literal(o)))),
    data: Type.Optional(Type.Record(Type.String(), Json, { description: 'these fields at least' })),
  },
  { additionalProperties: false },
);

const ExpectedDelivery = Type.Object(
  { flow: Type.String({ minLength: 1 }), input: Type.Optional(Json), request: Type.Optional(ExpectedRequest) },
  { additionalProperties: false },
);

const InboundCaseSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    inbound: Type.Object(
      {
        system: Type.String({ minLength: 1 }),
        topic: Type.String({ minLength: 1 }),
        payload: Type.Unknown({ description: 'inline JSON, or a .json file relative to the project' }),
      },
      { additionalProperties: false },
    ),
    expect: Type.Object(
      {
        records: Type.Optional(Type.Array(ExpectedRecord)),
        deliveries: Type.Optional(Type.Array(ExpectedDelivery)),
        error: Type.Optional(Type.String({ minLength: 1, description: 'the message fails, with an error containing this' })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const FlowCaseSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    flow: Type.String({ minLength: 1 }),
    record: Type.Object(
      {
        entity: Type.Optional(Entity),
        id: Type.Optional(Type.String({ minLength: 1 })),
        version: Type.Optional(Type.Integer({ minimum: 1 })),
        kind: Type.Optional(Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted')])),
        system: Type.Optional(Type.String({ description: 'the system the change came from' })),
        external_id: Type.Optional(Type.String({ description: "the record's id in the flow's destination (the external_id binding)" })),
        data: DataOrFile,
      },
      { additionalProperties: false },
    ),
    expect: Type.Object(
      {
        input: Type.Optional(Json),
        request: Type.Optional(ExpectedRequest),
        skipped: Type.Optional(Type.Boolean({ description: 'true: the flow does not send this record (filter, on, origin)' })),
        error: Type.Optional(Type.String({ minLength: 1, description: 'the delivery fails, with an error containing this' })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type InboundCaseSpec = Static<typeof InboundCaseSchema>;
export type FlowCaseSpec = Static<typeof FlowCaseSchema>;
export type ExpectedRequestSpec = Static<typeof ExpectedRequest>;

export type TestCase = ({ kind: 'inbound' } & InboundCaseSpec & { line: number | undefined }) | ({ kind: 'flow' } & FlowCaseSpec & { line: number | undefined });

export interface FileProblem {
  line: number | undefined;
  message: string;
}

export interface TestFile {
  /** As shown to the user (relative to the working folder). */
  file: string;
  cases: TestCase[];
  /** Set when the file does not parse or a case is malformed; malformed cases are not run. */
  problems: FileProblem[];
}

const ajv = new Ajv({ allErrors: true, strict: false });
const checkInbound = ajv.compile<InboundCaseSpec>(InboundCaseSchema);
const checkFlow = ajv.compile<FlowCaseSpec>(FlowCaseSchema);

function lineIn(doc: Document, counter: LineCounter, path: readonly (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

function explain(e: ErrorObject): { path: string[]; message: string } {
  const path = e.instancePath.split('/').slice(1);
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return { path: [...path, extra], message: `${[...path, extra].join('.')}: unknown key "${extra}"` };
  }
  if (e.keyword === 'required') return { path, message: `${path.length ? `${path.join('.')}: ` : ''}missing "${(e.params as { missingProperty: string }).missingProperty}"` };
  return { path, message: `${path.join('.') || '(case)'}: ${e.message ?? 'is invalid'}` };
}

/** Reads and checks one test file; never throws for what is in the file. */
export function readTestFile(path: string, shown: string): TestFile {
  const out: TestFile = { file: shown, cases: [], problems: [] };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    out.problems.push({ line: undefined, message: `cannot be read: ${e instanceof Error ? e.message : String(e)}` });
    return out;
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) out.problems.push({ line: counter.linePos(err.pos[0]).line, message: `does not parse: ${err.message.split('\n')[0] ?? err.message}` });
    return out;
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    out.problems.push({ line: undefined, message: 'has no tests (expected a list of test cases)' });
    return out;
  }
  if (!Array.isArray(data)) {
    out.problems.push({ line: lineIn(doc, counter, []), message: 'is not a list of test cases (each starts with "- name: …")' });
    return out;
  }
  data.forEach((raw: unknown, i) => {
    const line = lineIn(doc, counter, [i]);
    const name = typeof raw === 'object' && raw !== null && typeof (raw as { name?: unknown }).name === 'string' ? (raw as { name: string }).name : `case ${i + 1}`;
    const isFlow = typeof raw === 'object' && raw !== null && 'flow' in raw;
    const isInbound = typeof raw === 'object' && raw !== null && 'inbound' in raw;
    if (isFlow === isInbound) {
      out.problems.push({ line, message: `"${name}": a test case has either inbound (a payload → records) or flow (a record → a request)` });
      return;
    }
    const check = isFlow ? checkFlow : checkInbound;
    if (!check(raw)) {
      for (const e of check.errors ?? []) {
        const { path, message } = explain(e);
        out.problems.push({ line: lineIn(doc, counter, [i, ...path]), message: `"${name}": ${message}` });
      }
      return;
    }
    out.cases.push(isFlow ? { kind: 'flow', ...(raw as FlowCaseSpec), line } : { kind: 'inbound', ...(raw as InboundCaseSpec), line });
  });
  return out;
}
