import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { isoTime } from '@hangar/protocol';
import { NewDeltas, type FirmwareDelta } from '@hangar/protocol/rest';
import type { FirmwareDeltaRecord } from '../../core/firmware/catalog.js';
import type { DeltaService } from '../../core/firmware/delta/delta-service.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const DeltaList = Type.Object({ items: Type.Array(Type.Ref('FirmwareDelta')) });

export function firmwareDeltaView(d: FirmwareDeltaRecord): FirmwareDelta {
  return {
    id: d.id,
    firmwareId: d.firmwareId,
    baseFirmwareId: d.baseFirmwareId,
    baseVersion: d.baseVersion,
    format: d.format,
    state: d.state,
    size: d.size,
    sha256: d.sha256,
    error: d.error,
    buildMs: d.buildMs,
    createdAt: isoTime(d.createdAt),
  };
}

/** Delta images of a firmware image (docs/ota-deltas.md). */
export function firmwareDeltaRoutes(app: FastifyInstance, deltas: DeltaService): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['firmware'];

  r.get(
    '/api/v1/firmware/:id/deltas',
    { schema: { operationId: 'listFirmwareDeltas', tags, summary: 'Deltas to this image from earlier ones, with their state (building, ready, failed and why)', params: IdParams, response: { 200: DeltaList, ...ErrorResponses } } },
    async (req) => ({ items: (await deltas.list(ctxOf(req), req.params.id)).map(firmwareDeltaView) }),
  );

  r.post(
    '/api/v1/firmware/:id/deltas',
    {
      schema: {
        operationId: 'requestFirmwareDeltas',
        tags,
        summary: 'Build deltas to this image from earlier images; operator role',
        description:
          'Answers at once (202) with the deltas of those pairs; they build in the background, one at a time, and become `ready` once applying the patch was proven to reproduce the image’s SHA-256. A pair with a ready or building delta keeps it; a failed one is built again. Each base must be an older version of the same tenant.',
        params: IdParams,
        body: NewDeltas,
        response: { 202: DeltaList, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const records = await deltas.request(ctxOf(req), req.params.id, req.body.baseFirmwareIds);
      return reply.code(202).send({ items: records.map(firmwareDeltaView) });
    },
  );
}
