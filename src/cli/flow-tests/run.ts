import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ENTITIES, validateRecord, type EntityName } from '../../canonical/index.js';
import type { Project } from '../../config/load.js';
import { errorMessage } from '../../errors.js';
import { planDeliveries, runFlow, type DryRunChange, type PlannedDelivery } from '../../flows/dry-run.js';
import type { RequestPreview } from '../../flows/request-preview.js';
import { planInbound, type InboundPlan } from '../../normalize/dry-run.js';
import { diff, formatDiff, type Difference } from './diff.js';
import type { ExpectedRequestSpec, TestCase } from './format.js';

/**
 * Runs flow tests against a loaded project, offline: mappings are evaluated
 * directly (normalize/dry-run.ts, flows/dry-run.ts), nothing touches a
 * database or the network.
 */
export interface CaseResult {
  name: string;
  line: number | undefined;
  ok: boolean;
  /** Why it failed, one line each (diffs already formatted). */
  failures: string[];
}

class CaseFailure extends Error {}

/** A `.json` file relative to the project, or the value itself. */
function jsonOrFile(value: unknown, project: Project, what: string): unknown {
  if (typeof value !== 'string' || !/\.json$/.test(value)) return value;
  const path = isAbsolute(value) ? value : join(project.dir, value);
  if (!resolve(path).startsWith(project.dir)) throw new CaseFailure(`${what} ${value} is outside the project folder`);
  if (!existsSync(path)) throw new CaseFailure(`${what} file ${value} not found (paths are relative to the project folder)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new CaseFailure(`${what} file ${value} is not JSON: ${errorMessage(e)}`);
  }
}

function requestDiffs(expected: ExpectedRequestSpec, actual: RequestPreview | undefined, prefix: string): string[] {
  if (!actual) return [`${prefix}: the action does not send an HTTP request (only http and webhook actions do); check input instead`];
  const diffs: Difference[] = [];
  const { headers, ...rest } = expected;
  for (const [k, v] of Object.entries(rest)) diffs.push(...diff(v, actual[k as keyof RequestPreview], 'exact', k));
  if (headers) {
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    diffs.push(...diff(lower, actual.headers, 'subset', 'headers'));
  }
  return formatDiff(diffs, prefix);
}

/** Why nothing was sent, for a failure message. */
function notSent(d: PlannedDelivery): string {
  return d.verdict === 'failed' ? `the delivery would fail: ${d.reason ?? ''}` : `the flow would not send this record: ${d.reason ?? d.verdict}`;
}

async function runFlowCase(project: Project, c: Extract<TestCase, { kind: 'flow' }>): Promise<string[]> {
  const flow = project.flows.get(c.flow);
  if (!flow) throw new CaseFailure(`no flow named ${c.flow} (the project has: ${[...project.flows.keys()].join(', ') || 'none'})`);
  const entity: EntityName = c.record.entity ?? flow.entity;
  if (entity !== flow.entity) throw new CaseFailure(`flow ${c.flow} runs on ${flow.entity} records, not ${entity}`);
  const data = jsonOrFile(c.record.data, project, 'record.data');
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new CaseFailure('record.data must be an object');
  const valid = validateRecord(entity, data);
  if (!valid.ok) throw new CaseFailure(`record.data is not a valid ${entity}: ${valid.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`);
  const change: DryRunChange = {
    recordId: c.record.id ?? `${ENTITIES[entity].idPrefix}_test_1`,
    entity,
    version: c.record.version ?? 1,
    kind: c.record.kind ?? 'created',
    system: c.record.system,
    data: data as Record<string, unknown>,
    xrefs: c.record.external_id !== undefined ? { [flow.system]: c.record.external_id } : {},
  };
  const d = await runFlow(project, flow, change);
  const e = c.expect;
  if (e.error !== undefined) {
    if (d.verdict !== 'failed') return [`expected the delivery to fail with "${e.error}", but ${d.verdict === 'send' ? 'it would be sent' : notSent(d)}`];
    return d.reason?.includes(e.error) ? [] : [`expected an error containing "${e.error}", got: ${d.reason ?? ''}`];
  }
  if (e.skipped === true) return d.verdict === 'send' || d.verdict === 'failed' ? [`expected the flow to skip this record, but ${d.verdict === 'send' ? 'it would send it' : notSent(d)}`] : [];
  if (d.verdict !== 'send') return [notSent(d)];
  const out: string[] = [];
  if (e.input !== undefined) out.push(...formatDiff(diff(e.input, d.input, 'exact'), 'input'));
  if (e.request !== undefined) out.push(...requestDiffs(e.request, d.request, 'request'));
  return out;
}

function describeWrites(plan: InboundPlan): string {
  return plan.writes.map((w) => `${w.entity} ${w.externalId} (${w.outcome})`).join(', ') || 'none';
}

async function runInboundCase(project: Project, c: Extract<TestCase, { kind: 'inbound' }>): Promise<string[]> {
  const payload = jsonOrFile(c.inbound.payload, project, 'payload');
  const plan = await planInbound(project, c.inbound.system, c.inbound.topic, payload);
  const e = c.expect;
  if (e.error !== undefined) {
    if (plan.error === undefined) return [`expected the message to fail with "${e.error}", but it would write: ${describeWrites(plan)}`];
    return plan.error.includes(e.error) ? [] : [`expected an error containing "${e.error}", got: ${plan.error}`];
  }
  if (plan.error !== undefined) return [`the message would fail: ${plan.error}`];
  const out: string[] = [];
  for (const r of e.records ?? []) {
    const id = String(r.external_id);
    const label = `${r.entity} ${id}`;
    const w = plan.writes.find((x) => x.entity === r.entity && x.externalId === id);
    if (!w) {
      out.push(`${label}: not written (the mapping wrote: ${describeWrites(plan)})`);
      continue;
    }
    if (r.outcome !== undefined && r.outcome !== w.outcome) out.push(`${label}: expected ${r.outcome}, but it would be ${w.outcome}${w.reason ? ` (${w.reason})` : ''}`);
    else if (r.outcome === undefined && w.outcome === 'refused') out.push(`${label}: refused: ${w.reason ?? ''}`);
    if (r.data) out.push(...formatDiff(diff(r.data, w.data, 'subset'), `${label} data`));
  }
  if (e.deliveries) {
    const planned: PlannedDelivery[] = [];
    for (const w of plan.writes) {
      if (w.outcome !== 'created' && w.outcome !== 'updated' && w.outcome !== 'deleted') continue;
      planned.push(
        ...(await planDeliveries(project, {
          recordId: w.recordId ?? '',
          entity: w.entity,
          version: w.version ?? 1,
          kind: w.outcome,
          system: c.inbound.system,
          data: w.data,
          xrefs: w.xrefs,
        })),
      );
    }
    for (const x of e.deliveries) {
      const mine = planned.filter((d) => d.flow === x.flow);
      const sent = mine.filter((d) => d.verdict === 'send');
      if (sent.length === 0) {
        out.push(`flow ${x.flow}: ${mine[0] ? notSent(mine[0]) : `would not run (no flow of that name for the records written: ${describeWrites(plan)})`}`);
        continue;
      }
      // Any one of the flow's deliveries may match (one per record it runs on); show the first one's differences.
      const attempts = sent.map((d) => [
        ...(x.input !== undefined ? formatDiff(diff(x.input, d.input, 'exact'), `flow ${x.flow} input`) : []),
        ...(x.request !== undefined ? requestDiffs(x.request, d.request, `flow ${x.flow} request`) : []),
      ]);
      if (!attempts.some((a) => a.length === 0)) out.push(...(attempts[0] ?? []));
    }
  }
  return out;
}

export async function runCase(project: Project, c: TestCase): Promise<CaseResult> {
  let failures: string[];
  try {
    failures = c.kind === 'flow' ? await runFlowCase(project, c) : await runInboundCase(project, c);
  } catch (e) {
    if (!(e instanceof CaseFailure)) throw e;
    failures = [e.message];
  }
  return { name: c.name, line: c.line, ok: failures.length === 0, failures };
}
