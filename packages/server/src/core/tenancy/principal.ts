import { HangarError } from '../../errors.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Who is calling: resolved from an API key or a dashboard session before any service runs. */
export interface Principal {
  tenantId: string;
  type: 'api_key' | 'user' | 'system';
  id: string;
  name: string;
  role: Role;
}

export const DEFAULT_TENANT = 'default';

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function hasRole(principal: Principal, needed: Role): boolean {
  return RANK[principal.role] >= RANK[needed];
}

export function requireRole(principal: Principal, needed: Role): void {
  if (!hasRole(principal, needed)) {
    throw new HangarError('FORBIDDEN', `this action needs the ${needed} role; you have ${principal.role}`);
  }
}

/** Installation-wide actions (tenants) belong to the admins of the default tenant. */
export function requireInstallationAdmin(principal: Principal): void {
  requireRole(principal, 'admin');
  if (principal.tenantId !== DEFAULT_TENANT) {
    throw new HangarError('FORBIDDEN', 'only admins of the default tenant manage tenants');
  }
}

export function systemPrincipal(tenantId: string): Principal {
  return { tenantId, type: 'system', id: 'system', name: 'system', role: 'admin' };
}
