import type { EntityName } from '../canonical/index.js';
import type { Project } from '../config/load.js';
import { errorMessage } from '../errors.js';
import { personalDataBlock } from '../privacy/leak.js';
import type { ChangeKind } from '../store/records.js';
import type { Flow } from './compile.js';
import { previewRequest, type RequestPreview } from './request-preview.js';

/**
 * What the flows would do with one record change, without a database or a
 * network: the routing rules of delivery/router.ts (enabled, `on`, origin,
 * filter) and the input of delivery/execute.ts (the `map` mapping with the
 * same bindings, checked against the action's input schema), plus the
 * request an http or webhook action would send. Nothing is sent.
 */

/** The trace id bindings see in a dry run (a real one is random per message). */
export const DRY_RUN_TRACE_ID = '0'.repeat(32);

export interface DryRunChange {
  recordId: string;
  entity: EntityName;
  version: number;
  kind: ChangeKind;
  /** The system that made the change; a flow does not send a change back to its origin unless `include_origin`. */
  system: string | undefined;
  /** The record's data at this version. */
  data: Record<string, unknown>;
  /** system → that system's id for the record (a flow's `external_id` binding is its destination's). */
  xrefs: Record<string, string>;
}

/**
 * `send`: a delivery would be queued and this is its input; `failed`: it
 * would be queued but fail for good (shown with the error); the rest say why
 * no delivery would be queued.
 */
export type FlowVerdict = 'send' | 'failed' | 'disabled' | 'not_on_kind' | 'origin' | 'filtered_out';

export interface PlannedDelivery {
  flow: string;
  system: string;
  action: string;
  verdict: FlowVerdict;
  /** For everything but send: why. */
  reason?: string;
  input?: unknown;
  /** For http and webhook actions: the request. */
  request?: RequestPreview;
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0 && v.some(truthy);
  return v !== undefined && v !== null && v !== false && v !== 0 && v !== '';
}

/** One flow against one change. */
export async function runFlow(project: Project, flow: Flow, change: DryRunChange): Promise<PlannedDelivery> {
  const out = { flow: flow.name, system: flow.system, action: flow.action };
  if (!flow.enabled) return { ...out, verdict: 'disabled', reason: 'the flow is disabled (enabled: false)' };
  if (!flow.on.has(change.kind)) return { ...out, verdict: 'not_on_kind', reason: `the flow runs on ${[...flow.on].join(', ')}, not ${change.kind}` };
  if (!flow.includeOrigin && change.system === flow.system) {
    return { ...out, verdict: 'origin', reason: `the change came from ${flow.system} itself (set when.include_origin to send it back)` };
  }
  if (flow.filter) {
    try {
      const v = await flow.filter.evaluate(change.data, { id: change.recordId, entity: change.entity, version: change.version, kind: change.kind, system: change.system });
      if (!truthy(v)) return { ...out, verdict: 'filtered_out', reason: `the filter is ${JSON.stringify(v) ?? 'empty'} for this record` };
    } catch (e) {
      return { ...out, verdict: 'failed', reason: `filter failed: ${errorMessage(e)}` };
    }
  }
  const bindings = {
    id: change.recordId,
    entity: change.entity,
    version: change.version,
    kind: change.kind,
    external_id: change.xrefs[flow.system],
    trace_id: DRY_RUN_TRACE_ID,
  };
  let input: unknown = change.data;
  if (flow.map) {
    try {
      input = await flow.map.evaluate(change.data, bindings);
    } catch (e) {
      return { ...out, verdict: 'failed', reason: `mapping failed: ${errorMessage(e)}` };
    }
  }
  if (input === undefined) return { ...out, verdict: 'failed', reason: 'the mapping produced nothing' };
  if (!flow.validateInput(input)) {
    const why = (flow.validateInput.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`).join('; ');
    return { ...out, verdict: 'failed', input, reason: `the mapped input does not fit action ${flow.action}: ${why}` };
  }
  const blocked = personalDataBlock(project.privacy, flow.system, change.entity, change.data, input);
  if (blocked) return { ...out, verdict: 'failed', reason: blocked };
  const system = project.systems.get(flow.system);
  const preview = system ? previewRequest(system.kind, flow.action, { system: system.name, config: system.config, options: flow.options, input }) : undefined;
  if (preview && !preview.ok) return { ...out, verdict: 'failed', input, reason: preview.error };
  return { ...out, verdict: 'send', input, ...(preview ? { request: preview.request } : {}) };
}

/** Every flow of the change's entity, in project order. */
export async function planDeliveries(project: Project, change: DryRunChange): Promise<PlannedDelivery[]> {
  const out: PlannedDelivery[] = [];
  for (const flow of project.flows.values()) {
    if (flow.entity === change.entity) out.push(await runFlow(project, flow, change));
  }
  return out;
}
