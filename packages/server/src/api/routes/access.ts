import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CreatedApiKey, CreatedTenant, LoginRequest, LoginResponse, NewApiKey, NewTenant, NewUser, PageQuery, Tenant, UserPatch, allOf, pageOf } from '@hangar/protocol/rest';
import { isoTime } from '@hangar/protocol';
import type { Services } from '../../core/services.js';
import { SESSION_TTL_MS } from '../../core/tenancy/tenancy-service.js';
import { SESSION_COOKIE } from '../auth-hook.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';
import { apiKeyView, auditView, principalView, tenantView, userView } from '../views.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });

/** Sign-in, API keys, users, tenants and the audit log: who may do what, and who did. */
export function accessRoutes(app: FastifyInstance, services: Services, options: { secureCookies: boolean }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/api/v1/auth/login',
    {
      schema: {
        operationId: 'login',
        tags: ['auth'],
        summary: 'Dashboard sign-in by username and password, or by API key; sets the session cookie',
        body: LoginRequest,
        response: { 200: LoginResponse, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const { principal, sessionToken, expiresAt } = await services.tenancy.login(req.body, { requestId: String(req.id), source: req.ip });
      reply.setCookie(SESSION_COOKIE, sessionToken, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: options.secureCookies,
        maxAge: Math.floor(SESSION_TTL_MS / 1000),
      });
      return { principal: principalView(principal), expiresAt: isoTime(expiresAt) };
    },
  );

  r.post('/api/v1/auth/logout', { schema: { operationId: 'logout', tags: ['auth'], summary: 'End the dashboard session', response: { 204: Type.Null() } } }, async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    if (token !== undefined) await services.tenancy.logout(token);
    reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: options.secureCookies });
    return reply.code(204).send(null);
  });

  r.get('/api/v1/auth/me', { schema: { operationId: 'getCurrentPrincipal', tags: ['auth'], summary: 'Who the caller is', response: { 200: Type.Ref('Principal'), ...ErrorResponses } } }, async (req) =>
    principalView(ctxOf(req).principal),
  );

  // ---- API keys
  r.get(
    '/api/v1/api-keys',
    { schema: { operationId: 'listApiKeys', tags: ['api-keys'], summary: 'List API keys', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Type.Ref('ApiKey')), ...ErrorResponses } } },
    async (req) => {
      const page = await services.tenancy.listApiKeys(ctxOf(req), req.query.cursor, req.query.limit ?? 100);
      return { items: page.items.map(apiKeyView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api/v1/api-keys',
    {
      schema: {
        operationId: 'createApiKey',
        tags: ['api-keys'],
        summary: 'Create an API key; its token is in this answer only',
        body: NewApiKey,
        response: { 201: CreatedApiKey, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const { record, token } = await services.tenancy.createApiKey(ctxOf(req), req.body);
      return reply.code(201).send({ ...apiKeyView(record), token });
    },
  );

  r.delete('/api/v1/api-keys/:id', { schema: { operationId: 'revokeApiKey', tags: ['api-keys'], summary: 'Revoke an API key', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } }, async (req, reply) => {
    await services.tenancy.revokeApiKey(ctxOf(req), req.params.id);
    return reply.code(204).send(null);
  });

  // ---- users
  r.get(
    '/api/v1/users',
    { schema: { operationId: 'listUsers', tags: ['users'], summary: 'List dashboard users', querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(Type.Ref('User')), ...ErrorResponses } } },
    async (req) => {
      const page = await services.tenancy.listUsers(ctxOf(req), req.query.cursor, req.query.limit ?? 100);
      return { items: page.items.map(userView), nextCursor: page.nextCursor };
    },
  );

  r.post(
    '/api/v1/users',
    {
      schema: {
        operationId: 'createUser',
        tags: ['users'],
        summary: 'Create a dashboard user',
        body: NewUser,
        response: { 201: Type.Ref('User'), ...ErrorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(userView(await services.tenancy.createUser(ctxOf(req), req.body))),
  );

  r.patch(
    '/api/v1/users/:id',
    {
      schema: {
        operationId: 'updateUser',
        tags: ['users'],
        summary: 'Change a user’s role or password (ends their sessions)',
        params: IdParams,
        body: UserPatch,
        response: { 200: Type.Ref('User'), ...ErrorResponses },
      },
    },
    async (req) => userView(await services.tenancy.updateUser(ctxOf(req), req.params.id, req.body)),
  );

  r.delete('/api/v1/users/:id', { schema: { operationId: 'disableUser', tags: ['users'], summary: 'Disable a user (the record stays for the audit trail)', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } }, async (req, reply) => {
    await services.tenancy.disableUser(ctxOf(req), req.params.id);
    return reply.code(204).send(null);
  });

  // ---- tenants
  r.get('/api/v1/tenants', { schema: { operationId: 'listTenants', tags: ['tenants'], summary: 'List tenants (admins of the default tenant)', response: { 200: allOf(Tenant), ...ErrorResponses } } }, async (req) => ({
    items: (await services.tenancy.listTenants(ctxOf(req))).map(tenantView),
    nextCursor: null,
  }));

  r.post(
    '/api/v1/tenants',
    {
      schema: {
        operationId: 'createTenant',
        tags: ['tenants'],
        summary: 'Create a tenant and its first admin API key (shown once)',
        body: NewTenant,
        response: { 201: CreatedTenant, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const { tenant, adminKey } = await services.tenancy.createTenant(ctxOf(req), req.body);
      return reply.code(201).send({ ...tenantView(tenant), adminApiKey: { id: adminKey.record.id, token: adminKey.token } });
    },
  );

  // ---- audit
  r.get(
    '/api/v1/audit',
    {
      schema: {
        operationId: 'listAuditEntries',
        tags: ['audit'],
        summary: 'The audit log, newest first',
        querystring: Type.Object({ ...PageQuery, action: Type.Optional(Type.String({ maxLength: 128 })), targetId: Type.Optional(Type.String({ maxLength: 256 })) }, { additionalProperties: false }),
        response: { 200: pageOf(Type.Ref('AuditEntry')), ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await services.audit.list(ctxOf(req), { action: req.query.action, targetId: req.query.targetId, cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map(auditView), nextCursor: page.nextCursor };
    },
  );
}
