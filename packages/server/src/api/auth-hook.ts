import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sessionIdOf, type TenancyService } from '../core/tenancy/tenancy-service.js';
import { HangarError } from '../errors.js';

export const SESSION_COOKIE = 'hangar_session';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the caller authenticated with the session cookie (`sessionIdOf`): open streams end with the session. */
    sessionId?: string;
  }
}

/** Routes reachable without credentials (everything else under /api/v1 needs them). */
const PUBLIC = new Set(['/api/v1/auth/login', '/api/v1/openapi.json']);

/**
 * Resolves the caller of every /api/v1 request: a bearer API key, or the dashboard's session
 * cookie. Roles are then enforced by the core services, so every transport gets the same rules.
 */
export function registerAuth(app: FastifyInstance, tenancy: TenancyService): void {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/') || PUBLIC.has(path)) return;
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new HangarError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <api key>"');
      const principal = await tenancy.authenticateApiKey(match[1]!);
      if (!principal) throw new HangarError('UNAUTHENTICATED', 'the API key is unknown or revoked');
      request.principal = principal;
      return;
    }
    const session = request.cookies[SESSION_COOKIE];
    if (session !== undefined) {
      const principal = await tenancy.authenticateSession(session);
      if (!principal) throw new HangarError('UNAUTHENTICATED', 'the session has expired or was ended; sign in again');
      request.principal = principal;
      request.sessionId = sessionIdOf(session);
      return;
    }
    throw new HangarError('UNAUTHENTICATED', 'send an API key as "Authorization: Bearer <key>" or sign in');
  });
}
