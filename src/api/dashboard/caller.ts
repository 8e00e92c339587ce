import type { FastifyRequest } from 'fastify';

/**
 * Whether the caller may see personal data (src/auth/principal.ts): viewers
 * may not, so the dashboard's own endpoints mask personal fields for them,
 * server-side.
 */
export function mayReadPersonal(req: FastifyRequest): boolean {
  return req.principal?.canSeePersonalData ?? false;
}
