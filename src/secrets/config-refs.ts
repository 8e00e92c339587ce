import { getConnector } from '../connectors/registry.js';
import type { ConfigProblem } from '../config/load.js';
import { configStrings, isSecretObject, SECRET_NAME, secretRef, secretRefsIn } from './refs.js';

const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/**
 * Checks and normalizes secret references in a parsed causeway.yaml, before
 * its schema is checked:
 *
 * - `{ secret: NAME }` in a connector's secret field becomes `${secret:NAME}`;
 * - a reference is allowed only in the fields the connector's manifest lists
 *   as secrets (`auth.password`, …): other fields are shown in logs, request
 *   summaries and `plan`, so a secret there would leak;
 * - names must be valid; references outside `systems.<name>.config` are
 *   refused (inbound keys and alert secrets come from `${env:…}`).
 */
export function normalizeSecretRefs(data: unknown, file: string, lineOf: (p: (string | number)[]) => number | undefined, problems: ConfigProblem[]): void {
  const at = (path: (string | number)[], message: string) => {
    const line = lineOf(path);
    problems.push({ file, ...(line ? { line } : {}), message: `${path.join('.')}: ${message}` });
  };
  const systems = obj(obj(data)?.['systems']) ?? {};
  for (const [name, sysValue] of Object.entries(systems)) {
    const sys = obj(sysValue);
    const config = obj(sys?.['config']);
    if (!sys || !config) continue;
    const kind = sys['kind'];
    const allowed = new Set(typeof kind === 'string' ? (getConnector(kind)?.manifest.secrets ?? []) : []);
    for (const path of allowed) {
      const keys = path.split('.');
      const parent = keys.slice(0, -1).reduce<Record<string, unknown> | undefined>((o, k) => obj(o?.[k]), config);
      const last = keys.at(-1) as string;
      if (parent && isSecretObject(parent[last])) parent[last] = secretRef(parent[last].secret);
    }
    for (const s of configStrings(config)) {
      const refs = secretRefsIn(s.value);
      if (refs.length === 0) continue;
      const where = ['systems', name, 'config', ...s.path];
      for (const ref of refs) if (!SECRET_NAME.test(ref)) at(where, `"${ref.slice(0, 80)}" is not a valid secret name (letters, digits, _ . -)`);
      if (!allowed.has(s.path.join('.'))) {
        const fields = [...allowed].join(', ');
        at(where, `\${secret:…} is only allowed in the ${String(kind)} connector's secret fields${fields ? ` (${fields})` : ' (it has none)'}`);
      }
    }
    // What is left of the object form sits in a field that is not a secret one.
    const objects = (value: unknown, path: string[]): void => {
      // `{ secret: … }` may also be a config section whose `secret` key is a secret field (webhook: `config: { secret: whsec_… }`).
      const section = path.length === 0 || allowed.has([...path, 'secret'].join('.'));
      if (isSecretObject(value) && !section) return at(['systems', name, 'config', ...path], '{ secret: … } is only allowed in a secret field');
      if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) objects(v, [...path, k]);
    };
    objects(config, []);
  }
  // Anywhere else a reference would never be resolved: say so rather than send the literal text.
  const outside = (value: unknown, path: string[]) => {
    for (const s of configStrings(value, path)) {
      if (secretRefsIn(s.value).length > 0) at(s.path, '${secret:…} is only resolved in a system\'s connector config; use ${env:…} here');
    }
  };
  for (const [key, value] of Object.entries(obj(data) ?? {})) {
    if (key !== 'systems') outside(value, [key]);
  }
  for (const [name, sysValue] of Object.entries(systems)) {
    for (const [key, value] of Object.entries(obj(sysValue) ?? {})) if (key !== 'config') outside(value, ['systems', name, key]);
  }
}
