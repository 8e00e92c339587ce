import type { Permission, Role } from './permissions.js';

/**
 * Who is calling the management API, set on `request.principal` by the
 * request hook before any handler runs.
 *
 * - `token`: a person or automation with an API token and a role.
 * - `system`: a connected system with its own API key, limited to the
 *   entities its `scopes` name (`read:order`, `write:customer`).
 *
 * `canSeePersonalData` is what handlers (and the masking of personal data)
 * read: false means personal-data fields must be masked in what is returned.
 */
export type Principal = TokenPrincipal | SystemPrincipal;

export interface TokenPrincipal {
  kind: 'token';
  tokenId: number;
  name: string;
  role: Role;
  permissions: ReadonlySet<Permission>;
  canSeePersonalData: boolean;
}

export interface SystemPrincipal {
  kind: 'system';
  name: string;
  /** Entities the system may read / write through the records API. */
  read: ReadonlySet<string>;
  write: ReadonlySet<string>;
  canSeePersonalData: boolean;
}

/** The actor name written to the audit log. */
export function actorName(p: Principal): string {
  return p.kind === 'token' ? `token:${p.name}` : `system:${p.name}`;
}
