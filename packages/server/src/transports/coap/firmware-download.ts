import { createHash } from 'node:crypto';
import type { ArtifactDownloads } from '../../core/firmware/artifact-downloads.js';
import type { DownloadTarget } from '../../core/firmware/download-tokens.js';
import { blockSize, decodeBlock, encodeBlock, MAX_SZX } from '@hangar/protocol/coap';
import { errorResponse, responseForHangarError } from './coap-errors.js';
import { CoapCode, CoapOptionNumber as Opt, ContentFormat, encodeUint, firstOption, optionValues, type CoapMessage, type CoapOption } from '@hangar/protocol/coap';
import type { CoapResponse } from './coap-server.js';

/** `firmware/{id}/image` and `firmware/{id}/deltas/{deltaId}` under /device/v1 (COAP_RESOURCES.firmware). */
const FIRMWARE_PATH = /^firmware\/([^/]+)\/(?:image|deltas\/([^/]+))$/;

/** The Uri-Query parameter of the download token, as on HTTP. */
const TOKEN_QUERY = 't';

export function isFirmwareDownload(resource: string): boolean {
  return FIRMWARE_PATH.test(resource);
}

/**
 * One Block2 block (RFC 7959 §2.4) of a firmware image or delta. Each block request carries the
 * download token (`?t=`), the only credential, and is answered with just that block read from
 * the artifact store at its offset — nothing is cached, so a 2 GiB image costs no memory and a
 * client resumes from any block it likes. NUM has 20 bits (§2.2): with 1024-byte blocks an
 * artifact up to 1 GiB can be fetched over CoAP.
 */
export async function firmwareBlock(downloads: ArtifactDownloads | undefined, message: CoapMessage, resource: string, maxSzx: number = MAX_SZX): Promise<CoapResponse> {
  const m = FIRMWARE_PATH.exec(resource);
  if (!m) return errorResponse(CoapCode.NotFound, `no resource ${resource}`);
  if (message.code !== CoapCode.GET) return errorResponse(CoapCode.MethodNotAllowed, 'firmware downloads accept GET');
  if (!downloads) return errorResponse(CoapCode.NotImplemented, 'firmware is not served over CoAP by this server');
  const target: DownloadTarget = m[2] === undefined ? { firmwareId: m[1]! } : { firmwareId: m[1]!, deltaId: m[2] };
  const tokens = optionValues(message, Opt.UriQuery)
    .map((v) => v.toString('utf8'))
    .filter((q) => q.startsWith(`${TOKEN_QUERY}=`));
  if (tokens.length > 1) return errorResponse(CoapCode.BadRequest, `Uri-Query "${TOKEN_QUERY}" is given twice`);

  const block2Value = firstOption(message, Opt.Block2);
  const block2 = block2Value === undefined ? undefined : decodeBlock(block2Value);
  if (block2Value !== undefined && !block2) return errorResponse(CoapCode.BadOption, 'malformed Block2 option');
  if (block2 && block2.szx > MAX_SZX) return errorResponse(CoapCode.BadOption, 'BERT block size (SZX 7) is only defined for CoAP over TCP');
  // The channel may carry less than the block asked for (DTLS): a smaller block at the same offset (RFC 7959 §2.4).
  const szx = Math.min(block2?.szx ?? MAX_SZX, maxSzx);
  const num = (block2?.num ?? 0) << ((block2?.szx ?? szx) - szx);

  let artifact;
  try {
    artifact = await downloads.open(target, tokens[0]?.slice(TOKEN_QUERY.length + 1));
  } catch (err) {
    const answer = responseForHangarError(err, 0);
    if (answer) return answer;
    throw err;
  }
  const size = blockSize(szx);
  const offset = num * size;
  if (offset >= artifact.size && !(num === 0 && artifact.size === 0)) return errorResponse(CoapCode.BadOption, `block ${num} lies beyond the ${artifact.size}-byte artifact`);
  const end = Math.min(offset + size, artifact.size);
  const chunks: Buffer[] = [];
  if (end > offset) for await (const chunk of artifact.read({ start: offset, end: end - 1 })) chunks.push(Buffer.from(chunk));
  const payload = Buffer.concat(chunks);
  const options: CoapOption[] = [
    { number: Opt.ContentFormat, value: encodeUint(ContentFormat.OctetStream) },
    // §5.10.6: at most 8 bytes; the artifact key names immutable bytes, so its hash is a stable validator.
    { number: Opt.ETag, value: createHash('sha256').update(artifact.etag).digest().subarray(0, 8) },
  ];
  if (block2 || artifact.size > size) {
    options.push({ number: Opt.Block2, value: encodeBlock({ num, more: end < artifact.size, szx }) });
    // RFC 7959 §4: Size2 with the first block tells the client the whole size.
    if (num === 0) options.push({ number: Opt.Size2, value: encodeUint(artifact.size) });
  }
  return { code: CoapCode.Content, options, payload };
}
