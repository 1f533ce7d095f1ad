import type { Kysely, Selectable } from 'kysely';
import type { Role } from '../../core/tenancy/principal.js';
import type { ApiKey, Session, TenancyStore, Tenant, User } from '../../core/tenancy/ports.js';
import type { ApiKeysTable, Database, UsersTable } from '../schema.js';

export class KyselyTenancyStore implements TenancyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insertTenant(t: Tenant): Promise<void> {
    await this.db.insertInto('tenants').values({ id: t.id, name: t.name, created_at: t.createdAt }).execute();
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const r = await this.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? { id: r.id, name: r.name, createdAt: r.created_at } : undefined;
  }

  async listTenants(): Promise<Tenant[]> {
    const rows = await this.db.selectFrom('tenants').selectAll().orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at }));
  }

  async insertApiKey(k: ApiKey, tokenHash: string): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: k.id,
        tenant_id: k.tenantId,
        name: k.name,
        role: k.role,
        prefix: k.prefix,
        token_hash: tokenHash,
        created_at: k.createdAt,
        created_by: k.createdBy,
        last_used_at: k.lastUsedAt,
        revoked_at: k.revokedAt,
      })
      .execute();
  }

  async findApiKeyByHash(tokenHash: string): Promise<ApiKey | undefined> {
    const r = await this.db.selectFrom('api_keys').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return r ? toApiKey(r) : undefined;
  }

  async getApiKey(tenantId: string, id: string): Promise<ApiKey | undefined> {
    const r = await this.db.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toApiKey(r) : undefined;
  }

  async listApiKeys(tenantId: string, afterId: string | undefined, limit: number): Promise<ApiKey[]> {
    let q = this.db.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId);
    if (afterId !== undefined) q = q.where('id', '>', afterId);
    return (await q.orderBy('id').limit(limit).execute()).map(toApiKey);
  }

  async revokeApiKey(tenantId: string, id: string, at: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ revoked_at: at }).where('tenant_id', '=', tenantId).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }

  async touchApiKey(id: string, at: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  async insertUser(u: User, passwordHash: string): Promise<void> {
    await this.db
      .insertInto('users')
      .values({
        id: u.id,
        tenant_id: u.tenantId,
        username: u.username,
        password_hash: passwordHash,
        role: u.role,
        created_at: u.createdAt,
        updated_at: u.updatedAt,
        disabled_at: u.disabledAt,
      })
      .execute();
  }

  async getUser(tenantId: string, id: string): Promise<User | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toUser(r) : undefined;
  }

  async findUserByName(username: string): Promise<{ user: User; passwordHash: string } | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return r ? { user: toUser(r), passwordHash: r.password_hash } : undefined;
  }

  async listUsers(tenantId: string, afterId: string | undefined, limit: number): Promise<User[]> {
    let q = this.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId);
    if (afterId !== undefined) q = q.where('id', '>', afterId);
    return (await q.orderBy('id').limit(limit).execute()).map(toUser);
  }

  async updateUser(u: User, passwordHash?: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ role: u.role, updated_at: u.updatedAt, disabled_at: u.disabledAt, ...(passwordHash ? { password_hash: passwordHash } : {}) })
      .where('tenant_id', '=', u.tenantId)
      .where('id', '=', u.id)
      .execute();
  }

  async insertSession(idHash: string, s: Session, at: number): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ id: idHash, tenant_id: s.tenantId, principal_type: s.principalType, principal_id: s.principalId, created_at: at, expires_at: s.expiresAt })
      .execute();
  }

  async getSession(idHash: string): Promise<Session | undefined> {
    const r = await this.db.selectFrom('sessions').selectAll().where('id', '=', idHash).executeTakeFirst();
    if (!r) return undefined;
    return { tenantId: r.tenant_id, principalType: r.principal_type === 'user' ? 'user' : 'api_key', principalId: r.principal_id, expiresAt: r.expires_at };
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id', '=', idHash).execute();
  }

  async deleteSessionsOf(principalType: 'user' | 'api_key', principalId: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('principal_type', '=', principalType).where('principal_id', '=', principalId).execute();
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    const r = await this.db.deleteFrom('sessions').where('expires_at', '<', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

function toApiKey(r: Selectable<ApiKeysTable>): ApiKey {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    role: r.role as Role,
    prefix: r.prefix,
    createdAt: r.created_at,
    createdBy: r.created_by,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

function toUser(r: Selectable<UsersTable>): User {
  return { id: r.id, tenantId: r.tenant_id, username: r.username, role: r.role as Role, createdAt: r.created_at, updatedAt: r.updated_at, disabledAt: r.disabled_at };
}
