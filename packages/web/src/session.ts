/** Who is signed in, and what their role allows. */
import { createContext, useContext } from 'react';
import type { Principal, Role } from './api.ts';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** True when `role` is at least `required` (viewer < operator < admin). */
export function roleAtLeast(role: Role, required: Role): boolean {
  return (RANK[role] ?? -1) >= RANK[required];
}

export interface Session {
  principal: Principal;
  /** Whether the signed-in principal may do what needs `required`. */
  can(required: Role): boolean;
  signOut(): Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in shell');
  return session;
}
