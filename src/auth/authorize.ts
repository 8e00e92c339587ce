import { CausewayError } from '../errors.js';
import type { Permission } from './permissions.js';
import type { Principal } from './principal.js';

/** What a route declares about who may call it (its Fastify `config`). */
export interface RouteAccess {
  /** Open to anyone (health, metrics, docs). */
  public?: boolean;
  /** The handler authenticates the calling system itself (intake: key or signature over the raw body). */
  systemAuth?: boolean;
  /** The one permission this action needs. */
  permission?: Permission;
  /**
   * Connected systems may call it with their own key when the `:entity` of
   * the URL is in their `read:` (or `write:`) scopes. Without this, system
   * keys are refused whatever the permission.
   */
  systemScope?: 'read' | 'write';
}

/**
 * The one place that decides whether `principal` may call a route. Throws
 * `forbidden`; a route that declares no permission is refused to everyone
 * (fail closed: a forgotten declaration cannot open a route).
 */
export function authorize(principal: Principal, access: RouteAccess, params: unknown): void {
  const permission = access.permission;
  if (permission === undefined) throw new CausewayError('forbidden', 'this route declares no permission, so it is closed');
  if (principal.kind === 'token') {
    if (!principal.permissions.has(permission)) {
      throw new CausewayError('forbidden', `role ${principal.role} does not have permission ${permission}`);
    }
    return;
  }
  if (permission === 'me.read') return;
  const scope = access.systemScope;
  const entity = typeof params === 'object' && params !== null ? (params as Record<string, unknown>)['entity'] : undefined;
  if (scope === undefined || typeof entity !== 'string' || !(scope === 'read' ? principal.read : principal.write).has(entity)) {
    throw new CausewayError('forbidden', `system ${principal.name} has no scope for this (${permission}${typeof entity === 'string' ? ` on ${entity}` : ''})`);
  }
}
