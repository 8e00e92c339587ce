import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { EntityName } from '../canonical/index.js';
import type { ConfigProblem, SourceConfig, SystemConfig } from '../config/load.js';
import type { DeliveryFile, FlowFile, ProjectFile } from '../config/schema.js';
import { getConnector } from '../connectors/registry.js';
import { ADAPTIVE } from '../delivery/adaptive-limit.js';
import type { Mapping } from '../mapping/index.js';
import type { ChangeKind } from '../store/records.js';

/** How a flow retries: exponential backoff with jitter, capped. */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** 0..1: the fraction of each delay that is randomized away, so retries of many deliveries spread out. */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseDelayMs: 1000, maxDelayMs: 3_600_000, jitter: 0.2 };
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface Flow {
  name: string;
  description: string | undefined;
  entity: EntityName;
  on: ReadonlySet<ChangeKind>;
  filter: Mapping | undefined;
  includeOrigin: boolean;
  system: string;
  action: string;
  options: Record<string, unknown>;
  map: Mapping | undefined;
  writeback: Mapping | undefined;
  retry: RetryPolicy;
  timeoutMs: number;
  enabled: boolean;
  /** Checks the mapped input against the action's input schema. */
  validateInput: ValidateFunction;
}

/** Per destination system: how deliveries to it are paced and protected. */
export interface SystemDelivery {
  /** Deliveries in flight at once: the configured limit, or with `adaptive` the most the limit may grow to. */
  concurrency: number;
  /** No `delivery.concurrency` configured: the worker finds the limit (see delivery/adaptive-limit.ts). */
  adaptive: boolean;
  rateLimit: { perSecond: number; burst: number } | undefined;
  circuit: { failures: number; cooldownMs: number };
}

export function systemDelivery(d: DeliveryFile | undefined): SystemDelivery {
  return {
    concurrency: d?.concurrency ?? ADAPTIVE.max,
    adaptive: d?.concurrency === undefined,
    rateLimit: d?.rate_limit ? { perSecond: d.rate_limit.per_second, burst: d.rate_limit.burst ?? Math.max(1, Math.ceil(d.rate_limit.per_second)) } : undefined,
    circuit: { failures: d?.circuit?.failures ?? 5, cooldownMs: Math.round((d?.circuit?.cooldown_seconds ?? 30) * 1000) },
  };
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, verbose: true });

/** Ajv's errors as one readable message per path ("must be one of GET, POST" rather than one line per literal). */
function readable(errors: readonly ErrorObject[] | null | undefined): Array<{ path: string; message: string }> {
  const list = errors ?? [];
  return list
    .filter((e) => !(e.keyword === 'const' && list.some((o) => o.keyword === 'anyOf' && o.instancePath === e.instancePath)))
    .map((e) => {
      const options = (e.parentSchema as { anyOf?: Array<{ const?: unknown }> } | undefined)?.anyOf;
      if (e.keyword === 'anyOf' && options?.every((o) => o.const !== undefined)) {
        return { path: e.instancePath, message: `must be one of ${options.map((o) => String(o.const)).join(', ')}` };
      }
      const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : '';
      return { path: e.instancePath, message: `${e.message ?? 'invalid'}${extra}` };
    });
}

export type LoadMapping = (spec: string, line: number | undefined) => Mapping | undefined;

/**
 * Compiles the project's flows: every reference resolved (system, its
 * connector, the action), every expression compiled, every option checked
 * against the action's schema. Problems are collected, not thrown.
 */
export function compileFlows(
  data: ProjectFile,
  file: string,
  lineOf: (p: (string | number)[]) => number | undefined,
  loadMapping: LoadMapping,
  problems: ConfigProblem[],
): Map<string, Flow> {
  const flows = new Map<string, Flow>();
  for (const [name, f] of Object.entries(data.flows ?? {})) {
    const flow = compileFlow(name, f, data, file, lineOf, loadMapping, problems);
    if (flow) flows.set(name, flow);
  }
  return flows;
}

function compileFlow(
  name: string,
  f: FlowFile,
  data: ProjectFile,
  file: string,
  lineOf: (p: (string | number)[]) => number | undefined,
  loadMapping: LoadMapping,
  problems: ConfigProblem[],
): Flow | undefined {
  const at = (...path: (string | number)[]) => {
    const line = lineOf(['flows', name, ...path]);
    return { file, ...(line ? { line } : {}) };
  };
  const before = problems.length;
  const system = data.systems[f.do.system];
  let validateInput: ValidateFunction | undefined;
  let options: Record<string, unknown> = { ...(f.do.with ?? {}) };
  if (!system) {
    problems.push({ ...at('do', 'system'), message: `flows.${name}.do.system: no system named "${f.do.system}"` });
  } else {
    const connector = getConnector(system.kind);
    const action = connector?.manifest.actions[f.do.action];
    if (!connector) {
      // Reported once for the system itself.
    } else if (!action || !connector.act) {
      const known = Object.keys(connector.manifest.actions);
      problems.push({
        ...at('do', 'action'),
        message: `flows.${name}.do.action: connector ${system.kind} has no action "${f.do.action}"${known.length ? ` (it has: ${known.join(', ')})` : ' (it has no actions)'}`,
      });
    } else {
      validateInput = ajv.compile(action.input);
      if (action.options) {
        const check = ajv.compile(action.options);
        if (!check(options)) {
          for (const e of readable(check.errors)) {
            problems.push({ ...at('do', 'with'), message: `flows.${name}.do.with${e.path.replace(/\//g, '.')}: ${e.message}` });
          }
        }
        options = structuredClone(options);
      }
    }
  }
  const filter = f.when.filter ? loadMapping(f.when.filter, at('when', 'filter').line) : undefined;
  const map = f.map ? loadMapping(f.map, at('map').line) : undefined;
  const writeback = f.writeback ? loadMapping(f.writeback.map, at('writeback', 'map').line) : undefined;
  const retry: RetryPolicy = {
    attempts: f.retry?.attempts ?? DEFAULT_RETRY.attempts,
    baseDelayMs: f.retry?.base_delay_ms ?? DEFAULT_RETRY.baseDelayMs,
    maxDelayMs: f.retry?.max_delay_ms ?? DEFAULT_RETRY.maxDelayMs,
    jitter: f.retry?.jitter ?? DEFAULT_RETRY.jitter,
  };
  if (retry.maxDelayMs < retry.baseDelayMs) {
    problems.push({ ...at('retry'), message: `flows.${name}.retry: max_delay_ms is smaller than base_delay_ms` });
  }
  if (problems.length > before || !validateInput) return undefined;
  return {
    name,
    description: f.description,
    entity: f.when.entity,
    on: new Set(f.when.on ?? ['created', 'updated']),
    filter,
    includeOrigin: f.when.include_origin ?? false,
    system: f.do.system,
    action: f.do.action,
    options,
    map,
    writeback,
    retry,
    timeoutMs: f.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    enabled: f.enabled ?? true,
    validateInput,
  };
}

/**
 * Checks each system's `config` against its connector's schema (and that
 * the connector kind exists). Defaults from the schema are filled in.
 */
export function checkSystemConfigs(
  data: ProjectFile,
  file: string,
  lineOf: (p: (string | number)[]) => number | undefined,
  problems: ConfigProblem[],
): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const [name, sys] of Object.entries(data.systems)) {
    const connector = getConnector(sys.kind);
    const line = lineOf(['systems', name, 'kind']);
    if (!connector) {
      problems.push({ file, ...(line ? { line } : {}), message: `systems.${name}.kind: no connector "${sys.kind}"` });
      continue;
    }
    const config = structuredClone(sys.config ?? {});
    const check = ajv.compile(connector.manifest.config);
    if (!check(config)) {
      const cline = lineOf(['systems', name, 'config']) ?? line;
      for (const e of readable(check.errors)) {
        problems.push({ file, ...(cline ? { line: cline } : {}), message: `systems.${name}.config${e.path.replace(/\//g, '.')}: ${e.message}` });
      }
      continue;
    }
    out.set(name, config);
  }
  return out;
}

/** Checks a system's sources against its connector's manifest: the source type exists, its options fit, its topic is declared. */
export function compileSources(
  sys: SystemConfig,
  data: ProjectFile,
  file: string,
  lineOf: (p: (string | number)[]) => number | undefined,
  problems: ConfigProblem[],
): Map<string, SourceConfig> {
  const out = new Map<string, SourceConfig>();
  const connector = getConnector(sys.kind);
  for (const [name, src] of Object.entries(data.systems[sys.name]?.sources ?? {})) {
    const line = lineOf(['systems', sys.name, 'sources', name]);
    const at = { file, ...(line ? { line } : {}) };
    const where = `systems.${sys.name}.sources.${name}`;
    if (!connector) continue; // reported for the system's kind
    const manifest = connector.manifest.sources?.[src.type];
    if (!manifest) {
      const known = Object.keys(connector.manifest.sources ?? {});
      problems.push({ ...at, message: `${where}.type: connector ${sys.kind} has no source "${src.type}"${known.length ? ` (it has: ${known.join(', ')})` : ''}` });
      continue;
    }
    const implemented = manifest.mode === 'poll' ? connector.poll : connector.subscribe;
    if (!implemented) {
      problems.push({ ...at, message: `${where}: connector ${sys.kind} declares ${src.type} as a ${manifest.mode} source but does not implement it` });
      continue;
    }
    if (!sys.topics.has(src.topic)) {
      problems.push({ ...at, message: `${where}.topic: system ${sys.name} has no topic "${src.topic}" (declare it under topics with its mapping)` });
      continue;
    }
    const options = structuredClone(src.options ?? {});
    if (manifest.options) {
      const check = ajv.compile(manifest.options);
      if (!check(options)) {
        for (const e of readable(check.errors)) problems.push({ ...at, message: `${where}.options${e.path.replace(/\//g, '.')}: ${e.message}` });
        continue;
      }
    }
    out.set(name, { name, type: src.type, topic: src.topic, everyMs: Math.round((src.every_seconds ?? 10) * 1000), options, enabled: src.enabled ?? true });
  }
  return out;
}
