import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ArtifactDownloads } from '../../core/firmware/artifact-downloads.js';
import { parseRange as parseByteRange } from '../../core/firmware/byte-range.js';
import type { DownloadTarget } from '../../core/firmware/download-tokens.js';
import { HangarError } from '../../errors.js';

/** What a request's `Range` header asks of an artifact of `size` bytes. */
export type RangeAnswer = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * RFC 9110 §14.1–14.2 for one artifact, by the shared rules of `core/firmware/byte-range.ts`
 * (the operator download uses the same): a single `bytes=` range (`a-b`, `a-`, `-n`) is
 * served; the end is clamped to the size; a first byte at or past the end is unsatisfiable
 * (416). Anything else (another unit, bad syntax, several ranges) is answered in full (§14.2).
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  const range = parseByteRange(header, size);
  if (range.kind === 'none') return { kind: 'full' };
  if (range.kind === 'unsatisfiable') return range;
  return { kind: 'partial', start: range.start, end: range.end };
}

const IMAGE = '/device/v1/firmware/:firmwareId/image';
const DELTA = '/device/v1/firmware/:firmwareId/deltas/:deltaId';

/**
 * Firmware and delta downloads on the HTTP device API (docs/ota-delivery.md, DESIGN §5): GET and
 * HEAD with `Range`/`If-Range`/`ETag`, so a download cut at any point resumes (`curl -C -`).
 * The `?t=` download token is the only credential: these routes sit outside the device API's
 * authentication hook. Bodies stream from the artifact store, one range at a time.
 */
export async function firmwareDownloadRoutes(app: FastifyInstance, downloads: ArtifactDownloads): Promise<void> {
  const schema = (operationId: string, summary: string) => ({
    operationId,
    tags: ['device'],
    summary,
    description: 'The token from the OTA offer (`?t=`) is the only credential. Supports `Range` (one byte range; several are answered with the whole body), `If-Range` and `HEAD`. 401 `download_token_expired`, 403 `download_token_invalid`, 416 with `Content-Range: bytes */size` past the end.',
    querystring: { type: 'object', properties: { t: { type: 'string', maxLength: 1024 } } },
  });
  // GET and HEAD each with its own operationId (OpenAPI ids are unique per operation).
  for (const method of ['GET', 'HEAD'] as const) {
    const verb = method === 'GET' ? 'download' : 'head';
    app.route<{ Params: { firmwareId: string }; Querystring: { t?: string } }>({
      method,
      url: IMAGE,
      exposeHeadRoute: false,
      schema: schema(`${verb}FirmwareImage`, `${method === 'GET' ? 'Download' : 'Size and ETag of'} a firmware image (resumable) with its download token`),
      handler: (req, reply) => serve(downloads, { firmwareId: req.params.firmwareId }, req, reply),
    });
    app.route<{ Params: { firmwareId: string; deltaId: string }; Querystring: { t?: string } }>({
      method,
      url: DELTA,
      exposeHeadRoute: false,
      schema: schema(`${verb}FirmwareDelta`, `${method === 'GET' ? 'Download' : 'Size and ETag of'} a delta image (resumable) with its download token`),
      handler: (req, reply) => serve(downloads, { firmwareId: req.params.firmwareId, deltaId: req.params.deltaId }, req, reply),
    });
  }
}

async function serve(downloads: ArtifactDownloads, target: DownloadTarget, req: FastifyRequest<{ Querystring: { t?: string } }>, reply: FastifyReply): Promise<FastifyReply> {
  const artifact = await downloads.open(target, req.query.t);
  const { size, etag } = artifact;
  reply.header('accept-ranges', 'bytes').header('etag', etag).header('content-type', 'application/octet-stream').header('cache-control', 'private, no-transform');
  let range = parseRange(req.headers.range, size);
  // §13.1.5: If-Range with a validator other than the current one (or a date: there is no
  // Last-Modified to compare with) means the client's partial copy is stale: send it all.
  const ifRange = req.headers['if-range'];
  if (range.kind !== 'full' && typeof ifRange === 'string' && ifRange.trim() !== etag) range = { kind: 'full' };
  if (range.kind === 'unsatisfiable') throw new HangarError('RANGE_NOT_SATISFIABLE', `the range "${req.headers.range}" lies past the end of this ${size}-byte artifact`, { size });
  const span = range.kind === 'partial' ? { start: range.start, end: range.end } : undefined;
  reply.header('content-length', span ? span.end - span.start + 1 : size);
  if (span) reply.code(206).header('content-range', `bytes ${span.start}-${span.end}/${size}`);
  if (req.method === 'HEAD' || size === 0) return reply.send();
  return reply.send(Readable.from(artifact.read(span)));
}
