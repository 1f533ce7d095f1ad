import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  CaPatch,
  CaRegistration,
  CaVerification,
  DecommissionRequest,
  DecommissionedDevice,
  EnrollmentGroupPatch,
  NewCredentialRequest,
  NewEnrollmentGroup,
  ProvisionRequest,
  ProvisionResponse,
  RevokeCredentialQuery,
  allOf,
} from '@hangar/protocol/rest';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';
import { caView, credentialView, deviceView, enrollmentGroupView, issuedCredentialView } from '../views.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
/** Credentials, decommissioning, CAs and enrollment groups (operator/admin side). */
export function identityRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/devices/:id/credentials',
    { schema: { operationId: 'listCredentials', tags: ['credentials'], summary: 'A device’s credentials (secrets are never listed)', params: IdParams, response: { 200: allOf(Type.Ref('Credential')), ...ErrorResponses } } },
    async (req) => ({ items: (await services.credentials.list(ctxOf(req), req.params.id)).map(credentialView), nextCursor: null }),
  );

  r.post(
    '/api/v1/devices/:id/credentials',
    {
      schema: {
        operationId: 'issueCredential',
        tags: ['credentials'],
        summary: 'Issue a credential: a token, an X.509 certificate with a generated key, or a certificate for a CSR. The secret is in this answer only.',
        params: IdParams,
        body: NewCredentialRequest,
        response: { 201: Type.Ref('NewCredential'), ...ErrorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(issuedCredentialView(await services.credentials.issue(ctxOf(req), req.params.id, req.body))),
  );

  r.delete(
    '/api/v1/devices/:id/credentials/:credId',
    {
      schema: {
        operationId: 'revokeCredential',
        tags: ['credentials'],
        summary: 'Revoke a credential: certificates go on the tenant CRL and live sessions using it are closed',
        params: Type.Object({ id: Type.String({ maxLength: 256 }), credId: Type.String({ maxLength: 64 }) }),
        querystring: RevokeCredentialQuery,
        response: { 204: Type.Null(), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      await services.credentials.revoke(ctxOf(req), req.params.id, req.params.credId, req.query.reason);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/api/v1/devices/:id/decommission',
    {
      schema: {
        operationId: 'decommissionDevice',
        tags: ['devices'],
        summary: 'Decommission a device: revoke its credentials, disconnect it, optionally purge its data; the audit trail stays',
        params: IdParams,
        body: DecommissionRequest,
        response: { 200: DecommissionedDevice, ...ErrorResponses },
      },
    },
    async (req) => {
      const { device, revokedCredentials } = await services.decommission.decommission(ctxOf(req), req.params.id, req.body);
      return { ...deviceView(device), revokedCredentials };
    },
  );

  r.post(
    '/api/v1/devices/:id/recommission',
    { schema: { operationId: 'recommissionDevice', tags: ['devices'], summary: 'Let a decommissioned device id live again (it needs new credentials)', params: IdParams, response: { 200: Type.Ref('Device'), ...ErrorResponses } } },
    async (req) => deviceView(await services.decommission.recommission(ctxOf(req), req.params.id)),
  );

  // ---- certificate authorities
  r.get('/api/v1/cas', { schema: { operationId: 'listCas', tags: ['pki'], summary: 'The tenant’s CAs: its own and registered external ones', response: { 200: allOf(Type.Ref('Ca')), ...ErrorResponses } } }, async (req) => ({
    items: (await services.cas.list(ctxOf(req))).map(caView),
    nextCursor: null,
  }));

  r.get('/api/v1/cas/:id', { schema: { operationId: 'getCa', tags: ['pki'], summary: 'One CA', params: IdParams, response: { 200: Type.Ref('Ca'), ...ErrorResponses } } }, async (req) => caView(await services.cas.get(ctxOf(req), req.params.id)));

  r.post(
    '/api/v1/cas',
    {
      schema: {
        operationId: 'registerCa',
        tags: ['pki'],
        summary: 'Register an external CA (step 1): answers a verification code to prove possession of its key',
        body: CaRegistration,
        response: { 201: Type.Ref('Ca'), ...ErrorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(caView(await services.cas.registerExternal(ctxOf(req), req.body.certificatePem))),
  );

  r.post(
    '/api/v1/cas/:id/verify',
    {
      schema: {
        operationId: 'verifyCa',
        tags: ['pki'],
        summary: 'Register an external CA (step 2): a certificate with CN = the verification code, signed by the CA’s key',
        params: IdParams,
        body: CaVerification,
        response: { 200: Type.Ref('Ca'), ...ErrorResponses },
      },
    },
    async (req) => caView(await services.cas.verifyExternal(ctxOf(req), req.params.id, req.body.verificationCertificatePem)),
  );

  r.patch(
    '/api/v1/cas/:id',
    {
      schema: { operationId: 'updateCa', tags: ['pki'], summary: 'Enable or disable an external CA', params: IdParams, body: CaPatch, response: { 200: Type.Ref('Ca'), ...ErrorResponses } },
    },
    async (req) => caView(await services.cas.setExternalEnabled(ctxOf(req), req.params.id, req.body.enabled)),
  );

  // ---- enrollment groups
  r.get(
    '/api/v1/enrollment-groups',
    { schema: { operationId: 'listEnrollmentGroups', tags: ['enrollment'], summary: 'Enrollment groups', response: { 200: allOf(Type.Ref('EnrollmentGroup')), ...ErrorResponses } } },
    async (req) => ({ items: (await services.enrollment.list(ctxOf(req))).map((g) => enrollmentGroupView(g)), nextCursor: null }),
  );

  r.post(
    '/api/v1/enrollment-groups',
    {
      schema: {
        operationId: 'createEnrollmentGroup',
        tags: ['enrollment'],
        summary: 'Create an enrollment group; its claim token or group key is in this answer only',
        body: NewEnrollmentGroup,
        response: { 201: Type.Ref('EnrollmentGroup'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const { expiresAt, ...rest } = req.body;
      const { group, claimToken, groupKey } = await services.enrollment.create(ctxOf(req), { ...rest, expiresAt: isoToMs(expiresAt) });
      return reply.code(201).send(enrollmentGroupView(group, { claimToken, groupKey }));
    },
  );

  r.get('/api/v1/enrollment-groups/:id', { schema: { operationId: 'getEnrollmentGroup', tags: ['enrollment'], summary: 'One enrollment group', params: IdParams, response: { 200: Type.Ref('EnrollmentGroup'), ...ErrorResponses } } }, async (req) =>
    enrollmentGroupView(await services.enrollment.get(ctxOf(req), req.params.id)),
  );

  r.patch(
    '/api/v1/enrollment-groups/:id',
    {
      schema: {
        operationId: 'updateEnrollmentGroup',
        tags: ['enrollment'],
        summary: 'Change an enrollment group (enable/disable, limit, expiry, initial settings)',
        params: IdParams,
        body: EnrollmentGroupPatch,
        response: { 200: Type.Ref('EnrollmentGroup'), ...ErrorResponses },
      },
    },
    async (req) => {
      const { expiresAt, ...rest } = req.body;
      return enrollmentGroupView(await services.enrollment.update(ctxOf(req), req.params.id, { ...rest, ...(expiresAt !== undefined ? { expiresAt: isoToMs(expiresAt) } : {}) }));
    },
  );

  r.delete('/api/v1/enrollment-groups/:id', { schema: { operationId: 'deleteEnrollmentGroup', tags: ['enrollment'], summary: 'Delete an enrollment group (enrolled devices stay)', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } }, async (req, reply) => {
    await services.enrollment.delete(ctxOf(req), req.params.id);
    return reply.code(204).send(null);
  });
}

/** Public PKI documents and the device-facing provisioning endpoint: no API key, by design. */
export function pkiAndProvisioningRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const Tenant = Type.Object({ tenant: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }) });

  r.get('/pki/:tenant/ca.pem', { schema: { operationId: 'getTenantCaPem', tags: ['pki'], summary: 'The tenant CA certificate (public)', params: Tenant, security: [] } }, async (req, reply) =>
    reply.type('application/x-pem-file').send(await services.cas.caPem(req.params.tenant)),
  );

  r.get('/pki/:tenant/crl.pem', { schema: { operationId: 'getTenantCrlPem', tags: ['pki'], summary: 'The tenant CRL, signed by its CA (public)', params: Tenant, security: [] } }, async (req, reply) =>
    reply.type('application/x-pem-file').header('cache-control', 'max-age=60').send(await services.cas.crlPem(req.params.tenant)),
  );

  r.post(
    '/device/v1/provision',
    {
      schema: {
        operationId: 'provisionDevice',
        tags: ['device'],
        summary: 'A device enrolls through an enrollment group and receives its own credential',
        description: 'See docs/provisioning.md for the three flows: claim token, group symmetric key (HMAC proof), CA-signed certificate (signature proof).',
        security: [],
        body: ProvisionRequest,
        response: { 201: ProvisionResponse, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const result = await services.enrollment.provision(req.body, req.ip);
      return reply.code(201).send({ deviceId: result.deviceId, tenant: result.tenant, enrollmentGroupId: result.enrollmentGroupId, credential: issuedCredentialView(result.issued), firmwareSigningKeys: result.firmwareSigningKeys });
    },
  );
}

function isoToMs(v: string | null | undefined): number | null | undefined {
  if (v === undefined || v === null) return v;
  return Date.parse(v);
}
