/**
 * `${env:NAME}` and `${env:NAME:-default}` references in configuration
 * strings. Secrets never sit in the project files: they are references that
 * resolve when the hub loads the project.
 */
const REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface EnvProblem {
  name: string;
}

/** Replaces every reference in `value`; unresolvable names are reported, not thrown. */
export function resolveEnvRefs(
  value: string,
  env: NodeJS.ProcessEnv,
): { value: string; missing: string[] } {
  const missing: string[] = [];
  const out = value.replace(REF, (_m, name: string, fallback: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    missing.push(name);
    return '';
  });
  return { value: out, missing };
}

export function hasEnvRef(value: string): boolean {
  REF.lastIndex = 0;
  const found = REF.test(value);
  REF.lastIndex = 0;
  return found;
}
