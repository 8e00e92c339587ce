import { ENTITY_NAMES } from '../canonical/names.js';

/**
 * What a connected system may read or write through the records API with
 * its own API key, from `systems.<name>.scopes` in causeway.yaml:
 * `read:<entity>` lets it GET canonical records of that entity,
 * `write:<entity>` lets it PUT them as itself. Plural names are accepted
 * (`read:orders`). Without scopes a system key reaches intake only.
 */
export interface SystemScopes {
  read: ReadonlySet<string>;
  write: ReadonlySet<string>;
}

export const SCOPE_PATTERN = `^(read|write):(${ENTITY_NAMES.join('|')})s?$`;

const SCOPE = new RegExp(SCOPE_PATTERN);

export const NO_SCOPES: SystemScopes = { read: new Set(), write: new Set() };

/** Scopes already validated against SCOPE_PATTERN by the config schema. */
export function parseScopes(scopes: readonly string[] | undefined): SystemScopes {
  if (!scopes || scopes.length === 0) return NO_SCOPES;
  const read = new Set<string>();
  const write = new Set<string>();
  for (const s of scopes) {
    const m = SCOPE.exec(s);
    if (!m?.[1] || !m[2]) continue;
    (m[1] === 'read' ? read : write).add(m[2]);
  }
  return { read, write };
}
