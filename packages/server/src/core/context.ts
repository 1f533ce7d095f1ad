import type { Principal } from './tenancy/principal.js';

/** What every service call carries: who asks, and which request to tie audit entries to. */
export interface CallContext {
  principal: Principal;
  requestId?: string | undefined;
}
