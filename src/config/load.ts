import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { EntityName } from '../canonical/index.js';
import { hashApiKey } from '../intake/api-keys.js';
import { parseScopes, type SystemScopes } from '../auth/scopes.js';
import { compileMapping, MappingError, type Mapping } from '../mapping/index.js';
import { getConnector } from '../connectors/registry.js';
import { checkSystemConfigs, compileFlows, compileSources, systemDelivery, type Flow, type SystemDelivery } from '../flows/compile.js';
import { resolveEnvRefs } from './env.js';
import { normalizeSecretRefs } from '../secrets/config-refs.js';
import { compilePrivacy, type PrivacyConfig } from '../privacy/config.js';
import { DEFAULT_EGRESS, Egress, parseAllowEntry } from '../net/egress.js';
import { ProjectFileSchema, type AlertsFile, type ProjectFile, type SystemFile } from './schema.js';

export const PROJECT_FILE = 'causeway.yaml';

export interface ConfigProblem {
  file: string;
  line?: number | undefined;
  message: string;
}

/** Everything wrong with a project, each problem with its file and line. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      `invalid project:\n${problems.map((p) => `  ${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface TopicConfig {
  name: string;
  mapping: Mapping;
  /** Path segments to the source event id in the payload, when configured. */
  eventIdPath: string[] | undefined;
}

export interface InboundAuthConfig {
  apiKeyHash?: string;
  standardWebhooks?: { secrets: string[]; toleranceSeconds: number };
  hmac?: { header: string; secrets: string[]; encoding: 'base64' | 'hex'; prefix: string; algorithm: 'sha256' | 'sha1' | 'sha512' };
}

export interface SystemConfig {
  name: string;
  kind: string;
  description: string | undefined;
  auth: InboundAuthConfig;
  /** What its API key may do beyond intake (src/auth/scopes.ts). */
  scopes: SystemScopes;
  topics: Map<string, TopicConfig>;
  /** Validated against the connector's config schema. */
  config: Record<string, unknown>;
  delivery: SystemDelivery;
  /** Poll and subscribe sources (compiled in flows/compile.ts with the connector's manifest). */
  sources: Map<string, SourceConfig>;
}

export interface SourceConfig {
  name: string;
  /** The connector's source it uses. */
  type: string;
  topic: string;
  everyMs: number;
  options: Record<string, unknown>;
  enabled: boolean;
}

export interface Ownership {
  /** Entity → the system that owns the whole entity. */
  entities: Map<EntityName, string>;
  /** Entity → field → the system that owns that field. */
  fields: Map<EntityName, Map<string, string>>;
}

export interface Project {
  dir: string;
  file: string;
  name: string;
  systems: Map<string, SystemConfig>;
  ownership: Ownership;
  flows: Map<string, Flow>;
  alerts: AlertsFile;
  /** Who may receive personal data, how systems erase, how long raw payloads are kept (src/privacy/). */
  privacy: PrivacyConfig;
  /** Where connectors may open connections (`egress` in causeway.yaml; default: public addresses only). */
  egress: Egress;
  /** The validated document, for the parts other modules compile themselves (flows). */
  raw: ProjectFile;
  /** Finds the line of a path in causeway.yaml, for later checks' messages. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateFile = ajv.compile<ProjectFile>(ProjectFileSchema);

function problemFromAjv(e: ErrorObject, lineOf: (p: (string | number)[]) => number | undefined, file: string): ConfigProblem {
  const path = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    path.push(extra);
    message = `unknown key "${extra}"`;
  } else if (e.keyword === 'required') {
    message = `missing "${(e.params as { missingProperty: string }).missingProperty}"`;
  } else if (e.keyword === 'enum' || e.keyword === 'const') {
    message = `${message}: ${JSON.stringify(e.params)}`;
  }
  const where = path.length ? path.join('.') : '(top level)';
  const line = lineOf(path);
  return { file, ...(line ? { line } : {}), message: `${where}: ${message}` };
}

function makeLineOf(doc: Document, counter: LineCounter) {
  return (path: readonly (string | number)[]): number | undefined => {
    // Walk down as far as the path exists; report the deepest node found.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) {
        return counter.linePos(node.range[0]).line;
      }
      if (n === 0 && doc.contents?.range) return counter.linePos(doc.contents.range[0]).line;
    }
    return undefined;
  };
}

/** `id` or `meta.event_id` → ['meta', 'event_id']; a leading `$.` is allowed. */
function eventIdPath(path: string | undefined): string[] | undefined {
  if (!path) return undefined;
  return path.replace(/^\$\.?/, '').split('.').filter((s) => s.length > 0);
}

/**
 * Loads and validates a project folder. Throws ConfigError listing every
 * problem found; never returns a half-valid project.
 */
export function loadProject(dir: string, env: NodeJS.ProcessEnv = process.env): Project {
  const absDir = resolve(dir);
  const file = join(absDir, PROJECT_FILE);
  const shown = relative(process.cwd(), file) || PROJECT_FILE;
  if (!existsSync(file)) throw new ConfigError([{ file: shown, message: `no ${PROJECT_FILE} in ${absDir}` }]);
  const text = readFileSync(file, 'utf8');
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const err of doc.errors) {
    problems.push({ file: shown, line: counter.linePos(err.pos[0]).line, message: err.message.split('\n')[0] ?? err.message });
  }
  if (problems.length) throw new ConfigError(problems);

  // Resolve ${env:…} in every string scalar, reporting the line of each one we cannot.
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string') return;
      const { value, missing } = resolveEnvRefs(node.value, env);
      for (const name of missing) {
        problems.push({
          file: shown,
          ...(node.range ? { line: counter.linePos(node.range[0]).line } : {}),
          message: `environment variable ${name} is not set`,
        });
      }
      node.value = value;
    },
  });

  // An unset variable leaves an empty value that would fail again below: report it once.
  if (problems.length) throw new ConfigError(problems);
  const lineOf = makeLineOf(doc, counter);
  const data: unknown = doc.toJS();
  // ${secret:…} stays a reference (resolved per call, src/secrets/runtime.ts); here only its place and name are checked.
  normalizeSecretRefs(data, shown, lineOf, problems);
  if (problems.length) throw new ConfigError(problems);
  if (!validateFile(data)) {
    for (const e of collapseLiteralUnions(validateFile.errors ?? [])) problems.push(problemFromAjv(e, lineOf, shown));
    checkLoosely(data, absDir, shown, lineOf, problems);
    throw new ConfigError(dedupe(problems));
  }

  const systems = new Map<string, SystemConfig>();
  for (const [name, sys] of Object.entries(data.systems)) {
    systems.set(name, buildSystem(name, sys, absDir, shown, lineOf, problems));
  }
  const ownership = buildOwnership(data, shown, lineOf, problems);
  const configs = checkSystemConfigs(data, shown, lineOf, problems);
  for (const [name, config] of configs) {
    const sys = systems.get(name);
    if (sys) sys.config = config;
  }
  for (const sys of systems.values()) sys.sources = compileSources(sys, data, shown, lineOf, problems);
  const flows = compileFlows(
    data,
    shown,
    lineOf,
    (spec, line) => loadMapping(spec, absDir, { file: shown, line }, problems),
    problems,
  );
  const privacy = compilePrivacy(data, flows, shown, lineOf, (spec, line) => loadMapping(spec, absDir, { file: shown, line }, problems), problems);
  checkAlertChannels(data, shown, lineOf, problems);
  const egress = buildEgress(data, shown, lineOf, problems);
  if (problems.length) throw new ConfigError(dedupe(problems));
  return { dir: absDir, file, name: data.name ?? 'causeway', systems, ownership, flows, alerts: data.alerts ?? {}, privacy, egress, raw: data, lineOf };
}

/** The project's egress policy; each allow entry that is neither an address, a network nor a host name is a problem at its line. */
function buildEgress(data: ProjectFile, file: string, lineOf: (p: (string | number)[]) => number | undefined, problems: ConfigProblem[]): Egress {
  const allow = data.egress?.allow ?? [];
  allow.forEach((entry, i) => {
    const bad = parseAllowEntry(entry);
    if (typeof bad !== 'string') return;
    const line = lineOf(['egress', 'allow', i]);
    problems.push({ file, ...(line ? { line } : {}), message: `egress.allow.${i}: ${bad}` });
  });
  return allow.every((e) => typeof parseAllowEntry(e) !== 'string') ? new Egress(data.egress ?? {}) : DEFAULT_EGRESS;
}

/** `alerts.email.system` must name a system of kind smtp: its connector sends the alert mails. */
function checkAlertChannels(data: ProjectFile, file: string, lineOf: (p: (string | number)[]) => number | undefined, problems: ConfigProblem[]): void {
  const email = data.alerts?.email;
  if (!email) return;
  const line = lineOf(['alerts', 'email', 'system']);
  const at = { file, ...(line ? { line } : {}) };
  const kind = data.systems[email.system]?.kind;
  if (kind === undefined) problems.push({ ...at, message: `alerts.email.system: no system named "${email.system}"` });
  else if (kind !== 'smtp') problems.push({ ...at, message: `alerts.email.system: ${email.system} is a ${kind} system; alert mails need a system of kind smtp` });
}

/**
 * A union of literals (`on: [created, changed]`) fails once per branch and
 * once more for the union: one problem, "must be one of …", reads better.
 */
function collapseLiteralUnions(errors: ErrorObject[]): ErrorObject[] {
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword !== 'anyOf') continue;
    const branches = errors.filter((x) => x.instancePath === e.instancePath && x.keyword === 'const' && x.schemaPath.startsWith(e.schemaPath.replace(/anyOf$/, '')));
    if (branches.length === 0) continue;
    const allowed = branches.map((b) => String((b.params as { allowedValue: unknown }).allowedValue));
    out.push({ ...e, keyword: 'literals', message: `must be one of ${allowed.join(', ')}`, params: {} });
  }
  const collapsed = new Set(out.map((e) => e.instancePath));
  return [...errors.filter((e) => !collapsed.has(e.instancePath) || (e.keyword !== 'const' && e.keyword !== 'anyOf')), ...out];
}

/**
 * When the file's shape is wrong the later checks cannot run on it, but the
 * parts that stand alone still can: mapping expressions compile and
 * connector kinds exist. So one `causeway validate` shows those too.
 */
function checkLoosely(
  data: unknown,
  dir: string,
  file: string,
  lineOf: (p: (string | number)[]) => number | undefined,
  problems: ConfigProblem[],
): void {
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const mapping = (spec: unknown, path: (string | number)[]) => {
    if (typeof spec === 'string' && spec.trim() !== '') loadMapping(spec, dir, { file, line: lineOf(path) }, problems);
  };
  for (const [name, sys] of Object.entries(obj(obj(data)['systems']))) {
    const kind = obj(sys)['kind'];
    if (typeof kind === 'string' && !getConnector(kind)) {
      const line = lineOf(['systems', name, 'kind']);
      problems.push({ file, ...(line ? { line } : {}), message: `systems.${name}.kind: no connector "${kind}"` });
    }
    for (const [topic, t] of Object.entries(obj(obj(sys)['topics']))) mapping(obj(t)['mapping'], ['systems', name, 'topics', topic, 'mapping']);
  }
  for (const [name, f] of Object.entries(obj(obj(data)['flows']))) {
    mapping(obj(obj(f)['when'])['filter'], ['flows', name, 'when', 'filter']);
    mapping(obj(f)['map'], ['flows', name, 'map']);
    mapping(obj(obj(f)['writeback'])['map'], ['flows', name, 'writeback', 'map']);
  }
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.line}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * A mapping is a `.jsonata` file relative to the project (preferred: it can be
 * reviewed and tested) or an inline expression.
 */
export function loadMapping(
  spec: string,
  dir: string,
  where: { file: string; line: number | undefined },
  problems: ConfigProblem[],
): Mapping | undefined {
  let expression = spec;
  let source = `${where.file}${where.line ? `:${where.line}` : ''}`;
  if (/\.jsonata$/.test(spec.trim())) {
    const path = isAbsolute(spec) ? spec : join(dir, spec);
    if (!resolve(path).startsWith(dir)) {
      problems.push({ ...where, message: `mapping file ${spec} is outside the project folder` });
      return undefined;
    }
    if (!existsSync(path) || !statSync(path).isFile()) {
      problems.push({ ...where, message: `mapping file ${spec} not found` });
      return undefined;
    }
    expression = readFileSync(path, 'utf8');
    source = relative(process.cwd(), path) || spec;
  }
  try {
    return compileMapping(expression, source);
  } catch (e) {
    if (e instanceof MappingError) {
      // An inline expression's problem is reported at its line in causeway.yaml; a file's at its own line.
      const inline = expression === spec;
      const line = inline ? where.line : e.line;
      problems.push({ file: inline ? where.file : e.source.replace(/:\d+$/, ''), ...(line ? { line } : {}), message: e.message.replace(/^[^ ]+: /, '') });
      return undefined;
    }
    throw e;
  }
}

function buildSystem(
  name: string,
  sys: SystemFile,
  dir: string,
  file: string,
  lineOf: (p: (string | number)[]) => number | undefined,
  problems: ConfigProblem[],
): SystemConfig {
  const topics = new Map<string, TopicConfig>();
  for (const [topic, t] of Object.entries(sys.topics ?? {})) {
    const mapping = loadMapping(t.mapping, dir, { file, line: lineOf(['systems', name, 'topics', topic, 'mapping']) }, problems);
    if (mapping) topics.set(topic, { name: topic, mapping, eventIdPath: eventIdPath(t.event_id) });
  }
  const auth: InboundAuthConfig = {};
  if (sys.auth?.api_key) auth.apiKeyHash = hashApiKey(sys.auth.api_key);
  if (sys.auth?.standard_webhooks) {
    auth.standardWebhooks = {
      secrets: sys.auth.standard_webhooks.secrets,
      toleranceSeconds: sys.auth.standard_webhooks.tolerance_seconds ?? 300,
    };
  }
  if (sys.auth?.hmac) {
    auth.hmac = {
      header: sys.auth.hmac.header.toLowerCase(),
      secrets: sys.auth.hmac.secrets,
      encoding: sys.auth.hmac.encoding ?? 'base64',
      prefix: sys.auth.hmac.prefix ?? '',
      algorithm: sys.auth.hmac.algorithm ?? 'sha256',
    };
  }
  // Topics fed only by the system's own sources need no inbound credentials (the endpoint then refuses everyone).
  if (topics.size > 0 && !sys.sources && !auth.apiKeyHash && !auth.standardWebhooks && !auth.hmac) {
    problems.push({
      file,
      ...(lineOf(['systems', name, 'topics']) ? { line: lineOf(['systems', name, 'topics']) as number } : {}),
      message: `systems.${name} receives topics but has no auth: set auth.api_key, auth.standard_webhooks or auth.hmac`,
    });
  }
  return { name, kind: sys.kind, description: sys.description, auth, scopes: parseScopes(sys.scopes), topics, config: sys.config ?? {}, delivery: systemDelivery(sys.delivery), sources: new Map() };
}

const ENTITY_SET = new Set(['customer', 'product', 'order', 'inventory_level', 'invoice', 'shipment']);

function buildOwnership(
  data: ProjectFile,
  file: string,
  lineOf: (p: (string | number)[]) => number | undefined,
  problems: ConfigProblem[],
): Ownership {
  const entities = new Map<EntityName, string>();
  const fields = new Map<EntityName, Map<string, string>>();
  const claim = (system: string, entity: string, what: '*' | string[]) => {
    const line = lineOf(['systems', system, 'owns']);
    const at = { file, ...(line ? { line } : {}) };
    if (!ENTITY_SET.has(entity)) {
      problems.push({ ...at, message: `systems.${system}.owns: unknown entity "${entity}"` });
      return;
    }
    const e = entity as EntityName;
    if (what === '*') {
      const prev = entities.get(e);
      if (prev && prev !== system) problems.push({ ...at, message: `${entity} is owned by both ${prev} and ${system}` });
      entities.set(e, system);
      return;
    }
    const map = fields.get(e) ?? new Map<string, string>();
    for (const f of what) {
      const prev = map.get(f);
      if (prev && prev !== system) problems.push({ ...at, message: `${entity}.${f} is owned by both ${prev} and ${system}` });
      map.set(f, system);
    }
    fields.set(e, map);
  };
  for (const [name, sys] of Object.entries(data.systems)) {
    const owns = sys.owns;
    if (!owns) continue;
    if (Array.isArray(owns)) for (const e of owns) claim(name, e, '*');
    else for (const [e, what] of Object.entries(owns)) claim(name, e, what);
  }
  return { entities, fields };
}
