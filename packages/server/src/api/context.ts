import type { FastifyRequest } from 'fastify';
import type { CallContext } from '../core/context.js';
import type { Principal } from '../core/tenancy/principal.js';
import { HangarError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The call context of an authenticated request; the auth hook has already run. */
export function ctxOf(request: FastifyRequest): CallContext {
  if (!request.principal) throw new HangarError('UNAUTHENTICATED', 'send an API key as "Authorization: Bearer <key>" or sign in');
  return { principal: request.principal, requestId: String(request.id) };
}
