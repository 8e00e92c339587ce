/**
 * `${secret:NAME}` references in a system's connector config. They stay in
 * the loaded project as written (so `validate`, `plan` and every listing
 * show the reference, never the value) and are resolved only when a
 * connector is opened for a call (see system-config.ts).
 *
 * In causeway.yaml a secret field may also say `{ secret: NAME }`; the loader
 * turns that into the string form first, so everything after sees one form.
 */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const REF = /\$\{secret:([^}]*)\}/g;

/** Names referenced in one string (invalid names included, for the loader to report). */
export function secretRefsIn(value: string): string[] {
  return [...value.matchAll(REF)].map((m) => m[1] ?? '');
}

export function secretRef(name: string): string {
  return `\${secret:${name}}`;
}

/** Every string in a config with its dotted path (`auth.client_secret`), arrays by index. */
export function* configStrings(value: unknown, path: string[] = []): Generator<{ path: string[]; value: string }> {
  if (typeof value === 'string') yield { path, value };
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* configStrings(v, [...path, String(i)]);
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) yield* configStrings(v, [...path, k]);
}

/** Every secret name a config references. */
export function configSecretNames(config: unknown): string[] {
  const names = new Set<string>();
  for (const s of configStrings(config)) for (const n of secretRefsIn(s.value)) names.add(n);
  return [...names];
}

/**
 * The config with every reference replaced by `lookup(name)`. Returns a copy;
 * the project's own config keeps its references.
 */
export function replaceSecretRefs<T>(value: T, lookup: (name: string) => string): T {
  if (typeof value === 'string') return (value.includes('${secret:') ? value.replace(REF, (_m, name: string) => lookup(name)) : value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => replaceSecretRefs(v, lookup)) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = replaceSecretRefs(v, lookup);
    return out as T;
  }
  return value;
}

/** `{ secret: NAME }` (exactly that) as a value. */
export function isSecretObject(v: unknown): v is { secret: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === 'secret' && typeof (v as { secret: unknown }).secret === 'string';
}
