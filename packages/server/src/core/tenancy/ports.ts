import type { Role } from './principal.js';

export interface Tenant {
  id: string;
  name: string;
  createdAt: number;
}

export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: number;
  createdBy: string | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface User {
  id: string;
  tenantId: string;
  username: string;
  role: Role;
  createdAt: number;
  updatedAt: number;
  disabledAt: number | null;
}

export interface Session {
  tenantId: string;
  principalType: 'user' | 'api_key';
  principalId: string;
  expiresAt: number;
}

export interface TenancyStore {
  insertTenant(t: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | undefined>;
  listTenants(): Promise<Tenant[]>;

  insertApiKey(k: ApiKey, tokenHash: string): Promise<void>;
  findApiKeyByHash(tokenHash: string): Promise<ApiKey | undefined>;
  getApiKey(tenantId: string, id: string): Promise<ApiKey | undefined>;
  listApiKeys(tenantId: string, afterId: string | undefined, limit: number): Promise<ApiKey[]>;
  revokeApiKey(tenantId: string, id: string, at: number): Promise<void>;
  touchApiKey(id: string, at: number): Promise<void>;

  insertUser(u: User, passwordHash: string): Promise<void>;
  getUser(tenantId: string, id: string): Promise<User | undefined>;
  findUserByName(username: string): Promise<{ user: User; passwordHash: string } | undefined>;
  listUsers(tenantId: string, afterId: string | undefined, limit: number): Promise<User[]>;
  updateUser(u: User, passwordHash?: string): Promise<void>;

  insertSession(idHash: string, s: Session, at: number): Promise<void>;
  getSession(idHash: string): Promise<Session | undefined>;
  deleteSession(idHash: string): Promise<void>;
  deleteSessionsOf(principalType: 'user' | 'api_key', principalId: string): Promise<void>;
  deleteExpiredSessions(now: number): Promise<number>;
}
