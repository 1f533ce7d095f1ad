import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { isoTime, isoTimeOrNull } from '@hangar/protocol';
import { allOf, FirmwareListQuery, FirmwareUploadQuery, NewExternalSigningKey, pageOf, type Firmware, type SigningKey } from '@hangar/protocol/rest';
import { contentRange, rangeFor } from '../../core/firmware/byte-range.js';
import type { FirmwareImage } from '../../core/firmware/catalog.js';
import type { SigningKeyView } from '../../core/firmware/signing-keys.js';
import type { Services } from '../../core/services.js';
import { HangarError } from '../../errors.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const OCTET_STREAM = 'application/octet-stream';

export function firmwareView(f: FirmwareImage): Firmware {
  return {
    id: f.id,
    version: f.version,
    deviceTypes: f.deviceTypes,
    releaseNotes: f.releaseNotes,
    size: f.size,
    sha256: f.sha256,
    manifest: f.manifest,
    signature: f.signature,
    keyId: f.keyId,
    signedBy: f.signedBy,
    createdBy: f.createdBy,
    createdAt: isoTime(f.createdAt),
  };
}

export function signingKeyView(k: SigningKeyView): SigningKey {
  return { keyId: k.keyId, kind: k.kind, state: k.state, algorithm: 'ed25519', publicKeyPem: k.publicKeyPem, createdAt: isoTime(k.createdAt), retiredAt: isoTimeOrNull(k.retiredAt) };
}

/** The firmware registry (docs/firmware.md): images, their download with ranges, and the signing keys. */
export function firmwareRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['firmware'];

  // The upload lives in its own context: there, every body is handed over as the raw request
  // stream (never parsed or buffered), so a 2 GiB image streams straight into the artifact store.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/api/v1/firmware',
      {
        // Not enforced on a stream (the artifact store counts against --firmware-max-bytes); stated for readers of the route.
        bodyLimit: services.firmware.maxBytes,
        schema: {
          operationId: 'uploadFirmware',
          tags,
          summary: 'Upload a firmware image (the raw bytes as an application/octet-stream body, streamed); operator role',
          description:
            'Metadata goes in the query string. Hangar signs the manifest with the tenant’s active key, unless `signature` (with `id`, and `keyId` when the tenant has several external keys) brings a signature made with a registered external key. ' +
            'A taken version (409), a wrong declared sha256, a signature that does not verify (400), an image over the size limit (413) or a cut upload leave nothing stored.',
          querystring: FirmwareUploadQuery,
          consumes: [OCTET_STREAM],
          response: { 201: Type.Ref('Firmware'), ...ErrorResponses },
        },
      },
      async (req, reply) => {
        const ctx = ctxOf(req);
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== OCTET_STREAM) throw new HangarError('UNSUPPORTED_MEDIA_TYPE', `send the image as ${OCTET_STREAM}, not "${type || 'no content type'}"`);
        const length = req.headers['content-length'];
        const image = await services.firmware.upload(
          ctx,
          {
            version: req.query.version,
            deviceTypes: (req.query.deviceTypes ?? '').split(',').map((t) => t.trim()).filter((t) => t !== ''),
            releaseNotes: req.query.releaseNotes,
            sha256: req.query.sha256,
            signature: req.query.signature,
            keyId: req.query.keyId,
            id: req.query.id,
            declaredSize: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
          },
          requestBytes(req.body as Readable),
        );
        return reply.code(201).header('location', `/api/v1/firmware/${image.id}`).send(firmwareView(image));
      },
    );
  });

  r.get('/api/v1/firmware', { schema: { operationId: 'listFirmware', tags, summary: 'Firmware images, newest first; `deviceType` keeps those installable on it', querystring: FirmwareListQuery, response: { 200: pageOf(Type.Ref('Firmware')), ...ErrorResponses } } }, async (req) => {
    const page = await services.firmware.list(ctxOf(req), { deviceType: req.query.deviceType, cursor: req.query.cursor, limit: req.query.limit ?? 100 });
    return { items: page.items.map(firmwareView), nextCursor: page.nextCursor };
  });

  r.get('/api/v1/firmware/:id', { schema: { operationId: 'getFirmware', tags, summary: 'One firmware image with its signed manifest', params: IdParams, response: { 200: Type.Ref('Firmware'), ...ErrorResponses } } }, async (req) =>
    firmwareView(await services.firmware.get(ctxOf(req), req.params.id)),
  );

  r.delete(
    '/api/v1/firmware/:id',
    { schema: { operationId: 'deleteFirmware', tags, summary: 'Delete an image and its bytes; refused (409) while a rollout uses it; operator role', params: IdParams, response: { 204: Type.Null(), ...ErrorResponses } } },
    async (req, reply) => {
      await services.firmware.delete(ctxOf(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/api/v1/firmware/:id/image',
    {
      schema: {
        operationId: 'downloadFirmware',
        tags,
        summary: 'The image bytes; resumable with Range / If-Range (206, 416), ETag = its SHA-256',
        params: IdParams,
        response: { ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const download = await services.firmware.download(ctxOf(req), req.params.id);
      const { size } = download.image;
      reply.header('etag', download.etag).header('accept-ranges', 'bytes').header('cache-control', 'private, max-age=0');
      if (req.headers['if-none-match'] === download.etag) return reply.code(304).send();
      const range = rangeFor({ range: req.headers.range, ifRange: headerText(req.headers['if-range']) }, size, download.etag);
      if (range.kind === 'unsatisfiable') throw new HangarError('RANGE_NOT_SATISFIABLE', `the image has ${size} bytes; the range "${req.headers.range ?? ''}" starts past its end`, { size });
      reply.type(OCTET_STREAM).header('content-disposition', `attachment; filename="firmware-${download.image.version.replace(/[^A-Za-z0-9.+-]/g, '_')}.bin"`);
      // HEAD (Fastify's automatic route runs this handler): the headers without reading the artifact.
      const body = (range?: { start: number; end: number }): Readable => (req.method === 'HEAD' ? Readable.from([]) : Readable.from(download.read(range)));
      if (range.kind === 'range') {
        reply.code(206).header('content-range', contentRange(range.start, range.end, size)).header('content-length', range.end - range.start + 1);
        return reply.send(body({ start: range.start, end: range.end }));
      }
      reply.header('content-length', size);
      return reply.send(body());
    },
  );

  // ---- signing keys --------------------------------------------------------------------------

  r.get('/api/v1/firmware/signing-keys', { schema: { operationId: 'listFirmwareSigningKeys', tags, summary: 'The tenant’s manifest signing keys: Hangar’s (active and retired) and registered external ones', response: { 200: allOf(Type.Ref('SigningKey')), ...ErrorResponses } } }, async (req) => ({
    items: (await services.firmwareKeys.list(ctxOf(req))).map(signingKeyView),
    nextCursor: null,
  }));

  r.post(
    '/api/v1/firmware/signing-keys/rotate',
    { schema: { operationId: 'rotateFirmwareSigningKey', tags, summary: 'Make a new active signing key and retire the current one (still listed, still verifies what it signed); admin role', response: { 201: Type.Ref('SigningKey'), ...ErrorResponses } } },
    async (req, reply) => reply.code(201).send(signingKeyView(await services.firmwareKeys.rotate(ctxOf(req)))),
  );

  r.post(
    '/api/v1/firmware/signing-keys/external',
    { schema: { operationId: 'addExternalFirmwareSigningKey', tags, summary: 'Register a customer’s Ed25519 public key (SPKI PEM) that verifies signatures brought with uploads; admin role', body: NewExternalSigningKey, response: { 201: Type.Ref('SigningKey'), ...ErrorResponses } } },
    async (req, reply) => reply.code(201).send(signingKeyView(await services.firmwareKeys.addExternal(ctxOf(req), req.body.publicKeyPem))),
  );

  // Public, like the tenant CA: anyone may verify a manifest.
  const Tenant = Type.Object({ tenant: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }) });
  r.get('/pki/:tenant/firmware-keys.pem', { schema: { operationId: 'getTenantFirmwareKeysPem', tags: ['pki'], summary: 'The tenant’s firmware signing public keys, each PEM preceded by its key id (public)', params: Tenant, security: [] } }, async (req, reply) =>
    reply.type('application/x-pem-file').send(await services.firmwareKeys.publicPem(req.params.tenant)),
  );
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The request body's bytes; a body cut before its Content-Length ends in a clear error rather than a socket error. */
async function* requestBytes(body: Readable): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of body) yield chunk as Buffer;
  } catch (err) {
    throw new HangarError('VALIDATION_FAILED', 'the upload ended before all of its bytes arrived (the connection was cut); nothing was kept', {}, { cause: err });
  }
}
