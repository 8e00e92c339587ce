import type { Logger } from 'pino';
import { egressRefusal } from '../net/egress.js';
import type { Project } from '../config/load.js';
import { ActionError, failureKindOf, type CallSummary } from '../connectors/types.js';
import { getConnector } from '../connectors/registry.js';
import { errorMessage } from '../errors.js';
import { personalDataBlock } from '../privacy/leak.js';
import { MappingOutputError, parseMappedItems, type MappedItem } from '../normalize/items.js';
import type { ClaimedDelivery } from '../store/delivery-claim.js';
import type { ConnectorSecrets, OpenedSystem } from '../secrets/runtime.js';

export type AttemptOutcome = 'ok' | 'retryable' | 'permanent';

export interface Writeback {
  /** The record's id in the destination, for the cross-reference. */
  externalId: string | undefined;
  /** Canonical records stated by the destination (e.g. a shipment with its tracking number). */
  items: MappedItem[];
}

export interface ExecutionResult {
  delivery: ClaimedDelivery;
  startedAt: number;
  durationMs: number;
  /** `deferred`: not attempted (flow disabled); put back without spending the attempt. */
  outcome: AttemptOutcome | 'deferred';
  error: string | undefined;
  retryAfterMs: number | undefined;
  summary: CallSummary | undefined;
  writeback: Writeback | undefined;
}

class Failure extends Error {
  constructor(
    readonly kind: AttemptOutcome,
    message: string,
    readonly summary?: CallSummary,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Runs one claimed delivery: the flow's mapping, the input checked against
 * the action's schema, the connector's action under the flow's timeout, and
 * the write-back mapping. Never throws: every failure becomes an outcome
 * that the retry policy understands (mapping errors are permanent; anything
 * unexpected from a connector is retryable).
 */
export async function executeDelivery(d: ClaimedDelivery, project: Project, log: Logger, secrets?: ConnectorSecrets): Promise<ExecutionResult> {
  const startedAt = Date.now();
  const base = { delivery: d, startedAt, error: undefined, retryAfterMs: undefined, summary: undefined, writeback: undefined };
  const flow = project.flows.get(d.flow);
  if (flow && !flow.enabled) return { ...base, durationMs: 0, outcome: 'deferred' };
  let opened: OpenedSystem | undefined;
  try {
    if (!flow) throw new Failure('permanent', `flow ${d.flow} is not in the running project`);
    const system = project.systems.get(flow.system);
    const connector = system ? getConnector(system.kind) : undefined;
    if (!system || !connector?.act) throw new Failure('permanent', `system ${flow.system} cannot run action ${flow.action}`);
    const bindings = { id: d.recordId, entity: d.entity, version: d.version, kind: d.kind, external_id: d.externalId ?? undefined, trace_id: d.traceId };
    const data = JSON.parse(d.dataJson) as Record<string, unknown>;
    let input: unknown = data;
    if (flow.map) {
      try {
        input = await flow.map.evaluate(data, bindings);
      } catch (e) {
        throw new Failure('permanent', `mapping failed: ${errorMessage(e)}`);
      }
    }
    if (input === undefined) throw new Failure('permanent', 'the mapping produced nothing');
    if (!flow.validateInput(input)) {
      const why = (flow.validateInput.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`).join('; ');
      throw new Failure('permanent', `the mapped input does not fit action ${flow.action}: ${why}`);
    }
    const blocked = personalDataBlock(project.privacy, flow.system, d.entity, data, input);
    if (blocked) throw new Failure('permanent', blocked);
    // A controller and a timer cleared after the call, rather than AbortSignal.timeout: in a micro-benchmark
    // on this host (loaded) that cost ~100 µs per signal on Node 20, against ~3 µs for this.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), flow.timeoutMs);
    timer.unref();
    const signal = controller.signal;
    // The child logger is made only if the connector logs (pino's child() serializes its bindings: tens of µs).
    let child: Logger | undefined;
    let result;
    try {
      // Secrets are resolved here, per call, never into the loaded project (src/secrets/runtime.ts).
      opened = secrets ? await secrets.open(system) : undefined;
      result = await connector.act(flow.action, input, {
        system: system.name,
        config: opened?.config ?? system.config,
        ...(opened?.credentials ? { credentials: opened.credentials } : {}),
        ...(opened ? { alert: opened.alert } : {}),
        options: flow.options,
        idempotencyKey: d.idempotencyKey,
        traceId: d.traceId,
        attempt: d.attempt,
        signal,
        get log() {
          child ??= log.child({ trace_id: d.traceId, delivery_id: d.id, flow: d.flow });
          return child;
        },
        egress: project.egress,
      });
    } catch (e) {
      const kind = failureKindOf(e);
      if (e instanceof ActionError) throw new Failure(kind, e.message, e.summary, kind === 'retryable' ? e.retryAfterMs : undefined);
      // A refusal some library wrapped in its own error: named by the refusal's message.
      const refused = egressRefusal(e);
      if (refused) throw new Failure('permanent', refused.message);
      if (signal.aborted) throw new Failure('retryable', `timed out after ${flow.timeoutMs} ms`);
      throw new Failure('retryable', errorMessage(e));
    } finally {
      clearTimeout(timer);
    }
    let writeback: Writeback | undefined;
    if (flow.writeback) {
      try {
        writeback = parseWriteback(await flow.writeback.evaluate({ output: result.output, record: data, input }, bindings));
      } catch (e) {
        throw new Failure('permanent', `delivered, but the writeback failed: ${errorMessage(e)}`, result.summary);
      }
    }
    const summary = opened && result.summary.response !== undefined ? { ...result.summary, response: opened.scrub(result.summary.response) } : result.summary;
    return { ...base, durationMs: Date.now() - startedAt, outcome: 'ok', summary, writeback };
  } catch (e) {
    const f = e instanceof Failure ? e : new Failure('retryable', errorMessage(e));
    // A destination may echo a credential in its error or body: it must not reach the attempt log.
    const scrub = opened?.scrub ?? ((t: string) => t);
    const summary = f.summary && { ...f.summary, request: scrub(f.summary.request), ...(f.summary.response !== undefined ? { response: scrub(f.summary.response) } : {}) };
    return { ...base, durationMs: Date.now() - startedAt, outcome: f.kind, error: scrub(f.message), summary, retryAfterMs: f.retryAfterMs };
  }
}

/** `{ external_id?, records? }` from a write-back mapping. */
export function parseWriteback(v: unknown): Writeback {
  if (v === undefined || v === null) return { externalId: undefined, items: [] };
  if (!isObject(v)) throw new MappingOutputError('a writeback mapping must produce an object with external_id and/or records');
  for (const k of Object.keys(v)) {
    if (k !== 'external_id' && k !== 'records') throw new MappingOutputError(`writeback: unknown key "${k}"`);
  }
  const raw = v['external_id'];
  let externalId: string | undefined;
  if (typeof raw === 'string' && raw.length > 0 && raw.length <= 256) externalId = raw;
  else if (typeof raw === 'number' && Number.isFinite(raw)) externalId = String(raw);
  else if (raw !== undefined && raw !== null) throw new MappingOutputError('writeback: external_id must be a non-empty string or number');
  return { externalId, items: parseMappedItems(v['records']) };
}
