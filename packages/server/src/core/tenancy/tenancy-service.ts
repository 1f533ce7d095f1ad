import type { EventBus } from '../../bus/event-bus.js';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { decodeCursor, toPage, type Page } from '../pagination.js';
import type { StoreSet, Stores } from '../stores.js';
import { FailureThrottle } from '../failure-throttle.js';
import type { ApiKey, Tenant, User } from './ports.js';
import { DEFAULT_TENANT, requireInstallationAdmin, requireRole, systemPrincipal, type Principal, type Role } from './principal.js';
import { hashPassword, hashToken, newId, newToken, verifyPassword } from './secrets.js';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const USERNAME = /^[A-Za-z0-9._@+-]{1,128}$/;
const NAME_MAX = 128;
const PASSWORD_MIN = 8;
const BOOTSTRAP_TOKEN_MIN = 16;

export interface NewSecret<T> {
  record: T;
  token: string;
}

export interface BootstrapResult {
  createdTenant: boolean;
  /** Set when a new admin key was made from a generated token, which must be shown once. */
  generatedAdminToken?: string;
}

/**
 * A session's public id: enough of its stored hash to tell sessions apart in events, never
 * enough to be mistaken for the token (which is what authenticates).
 */
export function sessionIdOf(sessionToken: string): string {
  return hashToken(sessionToken).slice(0, 16);
}

export class TenancyService {
  private readonly throttle: FailureThrottle;

  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
    /** Runs inside the transaction that creates a tenant (the identity context makes its CA here). */
    private readonly onTenantCreated?: (tx: StoreSet, tenantId: string) => Promise<unknown>,
    /** Hears of ended access (revoked keys, disabled users, sign-outs), to close open streams. */
    private readonly bus?: EventBus,
  ) {
    this.throttle = new FailureThrottle({ maxFailures: 10, windowMs: 15 * 60 * 1000, what: 'sign-ins', now });
  }

  /**
   * First start: the `default` tenant and its admin key. `HANGAR_ADMIN_TOKEN`, when given, is
   * (re-)registered as an admin key on every start if no live key has it, so that an operator
   * who lost every admin key can get back in with access to the server's environment alone.
   */
  async bootstrap(adminToken: string | undefined): Promise<BootstrapResult> {
    if (adminToken !== undefined && adminToken.length < BOOTSTRAP_TOKEN_MIN) {
      throw new HangarError('VALIDATION_FAILED', `HANGAR_ADMIN_TOKEN must be at least ${BOOTSTRAP_TOKEN_MIN} characters`);
    }
    return this.stores.transaction(async (tx) => {
      const now = this.now();
      const ctx: CallContext = { principal: systemPrincipal(DEFAULT_TENANT) };
      const result: BootstrapResult = { createdTenant: false };
      if (!(await tx.tenancy.getTenant(DEFAULT_TENANT))) {
        await tx.tenancy.insertTenant({ id: DEFAULT_TENANT, name: 'Default', createdAt: now });
        await recordAudit(tx.audit, ctx, { action: 'tenant.create', target: { type: 'tenant', id: DEFAULT_TENANT } }, now);
        result.createdTenant = true;
      }
      let token = adminToken;
      if (token !== undefined) {
        const existing = await tx.tenancy.findApiKeyByHash(hashToken(token));
        if (existing && existing.revokedAt === null) return result;
        if (existing) return result; // a revoked bootstrap token stays revoked
      } else if (!result.createdTenant) {
        return result;
      } else {
        token = newToken('hk');
        result.generatedAdminToken = token;
      }
      const key = this.makeApiKey(DEFAULT_TENANT, 'bootstrap admin', 'admin', token, 'system', now);
      await tx.tenancy.insertApiKey(key, hashToken(token));
      await recordAudit(tx.audit, ctx, { action: 'api_key.create', target: { type: 'api_key', id: key.id }, summary: { after: { name: key.name, role: key.role } } }, now);
      return result;
    });
  }

  // ---- authentication --------------------------------------------------------------------

  async authenticateApiKey(token: string): Promise<Principal | undefined> {
    const key = await this.stores.tenancy.findApiKeyByHash(hashToken(token));
    if (!key || key.revokedAt !== null) return undefined;
    const now = this.now();
    // Last-use is informative; writing it at most once a minute keeps reads cheap.
    if (key.lastUsedAt === null || now - key.lastUsedAt > 60_000) await this.stores.tenancy.touchApiKey(key.id, now);
    return { tenantId: key.tenantId, type: 'api_key', id: key.id, name: key.name, role: key.role };
  }

  async authenticateSession(sessionToken: string): Promise<Principal | undefined> {
    const session = await this.stores.tenancy.getSession(hashToken(sessionToken));
    if (!session || session.expiresAt <= this.now()) return undefined;
    if (session.principalType === 'user') {
      const user = await this.stores.tenancy.getUser(session.tenantId, session.principalId);
      if (!user || user.disabledAt !== null) return undefined;
      return { tenantId: user.tenantId, type: 'user', id: user.id, name: user.username, role: user.role };
    }
    const key = await this.stores.tenancy.getApiKey(session.tenantId, session.principalId);
    if (!key || key.revokedAt !== null) return undefined;
    return { tenantId: key.tenantId, type: 'api_key', id: key.id, name: key.name, role: key.role };
  }

  /** Dashboard sign-in: by username and password, or by API key. Returns a session token. */
  async login(
    credentials: { username: string; password: string } | { apiKey: string },
    meta: { requestId?: string; source?: string } = {},
  ): Promise<{ principal: Principal; sessionToken: string; expiresAt: number }> {
    const requestId = meta.requestId;
    const throttleKeys = [`src:${meta.source ?? 'unknown'}`, ...('username' in credentials ? [`user:${credentials.username}`] : [])];
    this.throttle.check(throttleKeys);
    let principal: Principal | undefined;
    if ('apiKey' in credentials) {
      principal = await this.authenticateApiKey(credentials.apiKey);
    } else {
      const found = await this.stores.tenancy.findUserByName(credentials.username);
      // Verify against a dummy hash when the user is unknown so timing does not reveal which names exist.
      const ok = await verifyPassword(credentials.password, found?.passwordHash ?? DUMMY_HASH);
      if (found && ok && found.user.disabledAt === null) {
        principal = { tenantId: found.user.tenantId, type: 'user', id: found.user.id, name: found.user.username, role: found.user.role };
      }
    }
    if (!principal || principal.type === 'system') {
      this.throttle.fail(throttleKeys);
      throw new HangarError('UNAUTHENTICATED', 'wrong username, password or API key');
    }
    // Only the username's count resets: one good account must not clear a source's record.
    this.throttle.succeed(throttleKeys.filter((k) => k.startsWith('user:')));
    const sessionToken = newToken('hs');
    const now = this.now();
    const expiresAt = now + SESSION_TTL_MS;
    const p = principal;
    await this.stores.transaction(async (tx) => {
      await tx.tenancy.insertSession(hashToken(sessionToken), { tenantId: p.tenantId, principalType: p.type === 'user' ? 'user' : 'api_key', principalId: p.id, expiresAt }, now);
      await recordAudit(tx.audit, { principal: p, requestId }, { action: 'session.create', target: { type: p.type, id: p.id } }, now);
    });
    return { principal, sessionToken, expiresAt };
  }

  async logout(sessionToken: string): Promise<void> {
    const idHash = hashToken(sessionToken);
    const session = await this.stores.tenancy.getSession(idHash);
    await this.stores.tenancy.deleteSession(idHash);
    if (session) this.bus?.publish({ type: 'session.ended', tenantId: session.tenantId, principalType: session.principalType, principalId: session.principalId, sessionId: sessionIdOf(sessionToken) });
  }

  async purgeExpiredSessions(): Promise<number> {
    return this.stores.tenancy.deleteExpiredSessions(this.now());
  }

  // ---- API keys --------------------------------------------------------------------------

  async createApiKey(ctx: CallContext, input: { name: string; role: Role }): Promise<NewSecret<ApiKey>> {
    requireRole(ctx.principal, 'admin');
    const name = checkName(input.name, 'name');
    const token = newToken('hk');
    const now = this.now();
    const key = this.makeApiKey(ctx.principal.tenantId, name, input.role, token, ctx.principal.id, now);
    await this.stores.transaction(async (tx) => {
      await tx.tenancy.insertApiKey(key, hashToken(token));
      await recordAudit(tx.audit, ctx, { action: 'api_key.create', target: { type: 'api_key', id: key.id }, summary: { after: { name, role: key.role } } }, now);
    });
    return { record: key, token };
  }

  async listApiKeys(ctx: CallContext, cursor: string | undefined, limit: number): Promise<Page<ApiKey>> {
    requireRole(ctx.principal, 'admin');
    const rows = await this.stores.tenancy.listApiKeys(ctx.principal.tenantId, decodeCursor(cursor), limit + 1);
    return toPage(rows, limit, (k) => k.id);
  }

  async revokeApiKey(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'admin');
    await this.stores.transaction(async (tx) => {
      const key = await tx.tenancy.getApiKey(ctx.principal.tenantId, id);
      if (!key) throw new HangarError('API_KEY_NOT_FOUND', `API key "${id}" does not exist`);
      if (key.revokedAt !== null) throw new HangarError('CONFLICT', `API key "${id}" is already revoked`);
      const now = this.now();
      await tx.tenancy.revokeApiKey(ctx.principal.tenantId, id, now);
      await tx.tenancy.deleteSessionsOf('api_key', id);
      await recordAudit(tx.audit, ctx, { action: 'api_key.revoke', target: { type: 'api_key', id }, summary: { before: { name: key.name, role: key.role } } }, now);
    });
    this.bus?.publish({ type: 'api_key.revoked', tenantId: ctx.principal.tenantId, apiKeyId: id });
  }

  // ---- users -----------------------------------------------------------------------------

  async createUser(ctx: CallContext, input: { username: string; password: string; role: Role }): Promise<User> {
    requireRole(ctx.principal, 'admin');
    if (!USERNAME.test(input.username)) throw new HangarError('VALIDATION_FAILED', 'username must be 1–128 characters of letters, digits and . _ @ + -');
    checkPassword(input.password);
    const passwordHash = await hashPassword(input.password);
    const now = this.now();
    const user: User = { id: newId('usr'), tenantId: ctx.principal.tenantId, username: input.username, role: input.role, createdAt: now, updatedAt: now, disabledAt: null };
    await this.stores.transaction(async (tx) => {
      if (await tx.tenancy.findUserByName(input.username)) throw new HangarError('USER_EXISTS', `user "${input.username}" already exists`);
      await tx.tenancy.insertUser(user, passwordHash);
      await recordAudit(tx.audit, ctx, { action: 'user.create', target: { type: 'user', id: user.id }, summary: { after: { username: user.username, role: user.role } } }, now);
    });
    return user;
  }

  async listUsers(ctx: CallContext, cursor: string | undefined, limit: number): Promise<Page<User>> {
    requireRole(ctx.principal, 'admin');
    const rows = await this.stores.tenancy.listUsers(ctx.principal.tenantId, decodeCursor(cursor), limit + 1);
    return toPage(rows, limit, (u) => u.id);
  }

  async updateUser(ctx: CallContext, id: string, patch: { role?: Role | undefined; password?: string | undefined }): Promise<User> {
    requireRole(ctx.principal, 'admin');
    if (patch.password !== undefined) checkPassword(patch.password);
    const passwordHash = patch.password !== undefined ? await hashPassword(patch.password) : undefined;
    const updated = await this.stores.transaction(async (tx) => {
      const before = await tx.tenancy.getUser(ctx.principal.tenantId, id);
      if (!before) throw new HangarError('USER_NOT_FOUND', `user "${id}" does not exist`);
      const now = this.now();
      const after: User = { ...before, role: patch.role ?? before.role, updatedAt: now };
      await tx.tenancy.updateUser(after, passwordHash);
      // A changed password or role ends the user's sessions: they sign in again under the new terms.
      await tx.tenancy.deleteSessionsOf('user', id);
      await recordAudit(
        tx.audit,
        ctx,
        { action: 'user.update', target: { type: 'user', id }, summary: { before: { role: before.role }, after: { role: after.role, passwordChanged: passwordHash !== undefined } } },
        now,
      );
      return after;
    });
    this.bus?.publish({ type: 'session.ended', tenantId: ctx.principal.tenantId, principalType: 'user', principalId: id });
    return updated;
  }

  async disableUser(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'admin');
    await this.stores.transaction(async (tx) => {
      const before = await tx.tenancy.getUser(ctx.principal.tenantId, id);
      if (!before) throw new HangarError('USER_NOT_FOUND', `user "${id}" does not exist`);
      if (before.disabledAt !== null) throw new HangarError('CONFLICT', `user "${id}" is already disabled`);
      const now = this.now();
      await tx.tenancy.updateUser({ ...before, disabledAt: now, updatedAt: now });
      await tx.tenancy.deleteSessionsOf('user', id);
      await recordAudit(tx.audit, ctx, { action: 'user.disable', target: { type: 'user', id }, summary: { before: { username: before.username } } }, now);
    });
    this.bus?.publish({ type: 'user.disabled', tenantId: ctx.principal.tenantId, userId: id });
  }

  // ---- tenants ---------------------------------------------------------------------------

  async listTenants(ctx: CallContext): Promise<Tenant[]> {
    requireInstallationAdmin(ctx.principal);
    return this.stores.tenancy.listTenants();
  }

  async createTenant(ctx: CallContext, input: { id: string; name: string }): Promise<{ tenant: Tenant; adminKey: NewSecret<ApiKey> }> {
    requireInstallationAdmin(ctx.principal);
    if (!TENANT_ID.test(input.id)) throw new HangarError('VALIDATION_FAILED', 'tenant id must be 1–63 characters of lowercase letters, digits and -, starting with a letter or digit');
    const name = checkName(input.name, 'name');
    const now = this.now();
    const token = newToken('hk');
    const tenant: Tenant = { id: input.id, name, createdAt: now };
    const key = this.makeApiKey(input.id, 'tenant admin', 'admin', token, ctx.principal.id, now);
    await this.stores.transaction(async (tx) => {
      if (await tx.tenancy.getTenant(input.id)) throw new HangarError('TENANT_EXISTS', `tenant "${input.id}" already exists`);
      await tx.tenancy.insertTenant(tenant);
      await this.onTenantCreated?.(tx, tenant.id);
      await tx.tenancy.insertApiKey(key, hashToken(token));
      await recordAudit(tx.audit, ctx, { action: 'tenant.create', target: { type: 'tenant', id: tenant.id }, summary: { after: { name } } }, now);
      // The new tenant's own log starts with its birth, so its admins can see who made it.
      await recordAudit(tx.audit, { ...ctx, principal: { ...systemPrincipal(tenant.id) } }, { action: 'api_key.create', target: { type: 'api_key', id: key.id }, summary: { after: { name: key.name, role: 'admin' }, createdBy: ctx.principal.id } }, now);
    });
    return { tenant, adminKey: { record: key, token } };
  }

  private makeApiKey(tenantId: string, name: string, role: Role, token: string, createdBy: string, now: number): ApiKey {
    return { id: newId('key'), tenantId, name, role, prefix: token.slice(0, 8), createdAt: now, createdBy, lastUsedAt: null, revokedAt: null };
  }
}

// A real scrypt hash of a random string: verifying against it costs what a real check costs.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$' + Buffer.alloc(64).toString('base64');

function checkName(name: string, field: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > NAME_MAX) throw new HangarError('VALIDATION_FAILED', `${field} must be 1–${NAME_MAX} characters`);
  return trimmed;
}

function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN || password.length > 1024) throw new HangarError('VALIDATION_FAILED', `password must be ${PASSWORD_MIN}–1024 characters`);
}
