import type { FastifyRequest } from 'fastify';
import { actorName } from '../auth/principal.js';

/** Who and from where, for an audit entry about an API request. */
export function actorOf(req: FastifyRequest): { actor: string; ip: string; userAgent: string | null } {
  const ua = req.headers['user-agent'];
  return {
    actor: req.principal ? actorName(req.principal) : 'anonymous',
    ip: req.ip,
    userAgent: typeof ua === 'string' ? ua : null,
  };
}
