import { Ajv, type ValidateFunction } from 'ajv';
import type { ConfigProblem } from '../config/load.js';
import type { ProjectFile } from '../config/schema.js';
import { getConnector } from '../connectors/registry.js';
import type { Flow, LoadMapping } from '../flows/compile.js';
import type { Mapping } from '../mapping/index.js';
import { personalFieldsSent } from './references.js';
import { parseDuration } from './schema.js';

/** How to ask one system to forget a customer (`systems.<name>.erasure`). */
export interface ErasureAction {
  system: string;
  action: string;
  options: Record<string, unknown>;
  /** From `{ customer, records }` to the action input; default `{ id, external_id, records }`. */
  map: Mapping | undefined;
  attempts: number;
  timeoutMs: number;
  validateInput: ValidateFunction;
}

export interface PrivacyConfig {
  /** Systems cleared to receive personal data (`personal_data: allowed`). */
  cleared: ReadonlySet<string>;
  erasure: ReadonlyMap<string, ErasureAction>;
  /** Raw inbound payloads and attempt answers older than this are purged; undefined keeps them. */
  rawPayloadRetentionMs: number | undefined;
}

export const DEFAULT_ERASURE_ATTEMPTS = 5;
export const DEFAULT_ERASURE_TIMEOUT_MS = 10_000;

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });

type LineOf = (p: (string | number)[]) => number | undefined;

/**
 * The project's privacy rules, checked: every enabled flow to a system not
 * cleared for personal data must not reference a personal field in its
 * mapping (nor send the whole record), and every erasure action must exist
 * on its system's connector. Problems are collected, not thrown.
 */
export function compilePrivacy(
  data: ProjectFile,
  flows: ReadonlyMap<string, Flow>,
  file: string,
  lineOf: LineOf,
  loadMapping: LoadMapping,
  problems: ConfigProblem[],
): PrivacyConfig {
  const at = (path: (string | number)[]) => {
    const line = lineOf(path);
    return { file, ...(line ? { line } : {}) };
  };
  const cleared = new Set<string>();
  for (const [name, sys] of Object.entries(data.systems)) if (sys.personal_data === 'allowed') cleared.add(name);

  for (const flow of flows.values()) {
    if (cleared.has(flow.system)) continue;
    const sent = personalFieldsSent(flow.entity, flow.map);
    if (sent.length === 0) continue;
    const how = flow.map ? `its mapping references ${sent.join(', ')}` : `it has no map, so it sends the whole ${flow.entity} (${sent.join(', ')})`;
    problems.push({
      ...at(['flows', flow.name, flow.map ? 'map' : 'do']),
      message: `flows.${flow.name}: ${flow.system} is not cleared for personal data, but ${how}; leave those fields out, or set systems.${flow.system}.personal_data: allowed`,
    });
  }

  const erasure = new Map<string, ErasureAction>();
  for (const [name, sys] of Object.entries(data.systems)) {
    const e = sys.erasure;
    if (!e) continue;
    const connector = getConnector(sys.kind);
    if (!connector) continue; // reported for the system's kind
    const action = connector.manifest.actions[e.action];
    if (!action || !connector.act) {
      const known = Object.keys(connector.manifest.actions);
      problems.push({
        ...at(['systems', name, 'erasure', 'action']),
        message: `systems.${name}.erasure.action: connector ${sys.kind} has no action "${e.action}"${known.length ? ` (it has: ${known.join(', ')})` : ''}`,
      });
      continue;
    }
    const options = structuredClone(e.with ?? {});
    if (action.options) {
      const check = ajv.compile(action.options);
      if (!check(options)) {
        for (const err of check.errors ?? []) {
          problems.push({ ...at(['systems', name, 'erasure', 'with']), message: `systems.${name}.erasure.with${err.instancePath.replace(/\//g, '.')}: ${err.message ?? 'invalid'}` });
        }
        continue;
      }
    }
    const map = e.map ? loadMapping(e.map, lineOf(['systems', name, 'erasure', 'map'])) : undefined;
    if (e.map && !map) continue;
    erasure.set(name, {
      system: name,
      action: e.action,
      options,
      map,
      attempts: e.retry?.attempts ?? DEFAULT_ERASURE_ATTEMPTS,
      timeoutMs: e.timeout_ms ?? DEFAULT_ERASURE_TIMEOUT_MS,
      validateInput: ajv.compile(action.input),
    });
  }

  return { cleared, erasure, rawPayloadRetentionMs: parseDuration(data.retention?.raw_payloads) };
}
