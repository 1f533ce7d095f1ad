import { createHmac, timingSafeEqual } from 'node:crypto';
import { HangarError } from '../../errors.js';
import { deltaArtifactKey, firmwareArtifactKey } from './artifact-store.js';
import type { DownloadLinks } from './catalog.js';

/** What a download URL names: a firmware image, or one of its deltas. */
export type DownloadTarget = { firmwareId: string; deltaId?: undefined } | { firmwareId: string; deltaId: string };

/** Who a verified token was made for, and for which artifact. */
export interface DownloadGrant {
  tenantId: string;
  deviceId: string;
  firmwareId: string;
  artifactKey: string;
  expiresAt: number;
}

export interface DownloadTokenOptions {
  /** How long a token stays valid (default 1 hour): long enough to finish a slow download with resumes. */
  ttlMs?: number | undefined;
  now?: (() => number) | undefined;
}

export const DEFAULT_DOWNLOAD_TOKEN_TTL_MS = 60 * 60 * 1000;

/** Domain separation: a MAC made for anything else with this key never verifies here. */
const MAC_DOMAIN = 'hangar-firmware-download-v1';
/** 128 bits of HMAC-SHA256: forging one is 2^128 work, and the token stays short. */
const MAC_BYTES = 16;
/**
 * Neither tenant ids (`[a-z0-9-]`) nor device ids (`[A-Za-z0-9._:-]`) contain `~`, and it is
 * unreserved in URLs (RFC 3986 §2.3), so the token needs no escaping anywhere.
 */
const SEP = '~';
/** RFC 7252 §5.10: a CoAP Uri-Query option holds at most 255 bytes; `t=` plus the longest token fits. */
export const MAX_DOWNLOAD_TOKEN_LENGTH = 253;

/** The device-API path of an artifact, without the token (the same on HTTP and CoAP). */
export function downloadPath(target: DownloadTarget): string {
  const id = encodeURIComponent(target.firmwareId);
  return target.deltaId === undefined ? `/device/v1/firmware/${id}/image` : `/device/v1/firmware/${id}/deltas/${encodeURIComponent(target.deltaId)}`;
}

function artifactKeyOf(target: DownloadTarget): string {
  return target.deltaId === undefined ? firmwareArtifactKey(target.firmwareId) : deltaArtifactKey(target.deltaId);
}

/**
 * Short-lived download tokens (`?t=`), the only credential a firmware download needs, so that a
 * plain `curl -C -` resumes it. A token is `tenant~device~expiry~mac`: the MAC (HMAC-SHA256
 * with a key derived from the master key, so every node of a cluster verifies every other's)
 * covers tenant, device, expiry, the firmware id of the path and the artifact key. The artifact
 * is not written into the token — the URL's path names it — which keeps the token under
 * CoAP's 255-byte Uri-Query limit; a token shown with another artifact's path fails its MAC.
 * Nothing is stored: a token cannot be revoked before it expires (hence the short default).
 */
export class DownloadTokens implements DownloadLinks {
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly key: Uint8Array,
    options: DownloadTokenOptions = {},
  ) {
    if (key.length < 32) throw new Error('a download-token key needs at least 32 bytes');
    this.ttlMs = options.ttlMs ?? DEFAULT_DOWNLOAD_TOKEN_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  image(tenantId: string, deviceId: string, firmwareId: string): { url: string; expiresAt: number } {
    return this.link(tenantId, deviceId, { firmwareId });
  }

  delta(tenantId: string, deviceId: string, firmwareId: string, deltaId: string): { url: string; expiresAt: number } {
    return this.link(tenantId, deviceId, { firmwareId, deltaId });
  }

  /** A token for one device and one artifact; `expiresAt` is epoch ms (whole seconds). */
  issue(tenantId: string, deviceId: string, target: DownloadTarget): { token: string; expiresAt: number } {
    const expiresSec = Math.ceil((this.now() + this.ttlMs) / 1000);
    const head = [tenantId, deviceId, expiresSec.toString(36)].join(SEP);
    const token = `${head}${SEP}${this.mac(tenantId, deviceId, expiresSec, target).toString('base64url')}`;
    return { token, expiresAt: expiresSec * 1000 };
  }

  /**
   * Checks a token against the path it came with. Throws DOWNLOAD_TOKEN_INVALID when it is
   * malformed, altered, or made for another artifact or path, and DOWNLOAD_TOKEN_EXPIRED when it
   * is genuine but past its expiry (the MAC is checked first, so an altered expiry is invalid).
   */
  verify(target: DownloadTarget, token: string | undefined): DownloadGrant {
    if (token === undefined || token === '') throw new HangarError('DOWNLOAD_TOKEN_INVALID', 'a firmware download needs its token: add ?t=<token> from the OTA offer');
    if (target.firmwareId.includes('\u0000') || target.deltaId?.includes('\u0000')) throw new HangarError('DOWNLOAD_TOKEN_INVALID', 'the download path is malformed');
    const parts = token.length <= MAX_DOWNLOAD_TOKEN_LENGTH ? token.split(SEP) : [];
    const [tenantId, deviceId, expires, mac] = parts;
    const expiresSec = parts.length === 4 && /^[0-9a-z]{1,10}$/.test(expires!) ? parseInt(expires!, 36) : NaN;
    if (!tenantId || !deviceId || !mac || !Number.isSafeInteger(expiresSec)) throw new HangarError('DOWNLOAD_TOKEN_INVALID', 'the download token is malformed');
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(tenantId, deviceId, expiresSec, target);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HangarError('DOWNLOAD_TOKEN_INVALID', 'the download token is not valid for this artifact (altered, or made for another download)');
    }
    const expiresAt = expiresSec * 1000;
    if (this.now() >= expiresAt) throw new HangarError('DOWNLOAD_TOKEN_EXPIRED', `the download token expired at ${new Date(expiresAt).toISOString()}; fetch the OTA offer again for a fresh one`);
    return { tenantId, deviceId, firmwareId: target.firmwareId, artifactKey: artifactKeyOf(target), expiresAt };
  }

  private link(tenantId: string, deviceId: string, target: DownloadTarget): { url: string; expiresAt: number } {
    const { token, expiresAt } = this.issue(tenantId, deviceId, target);
    return { url: `${downloadPath(target)}?t=${token}`, expiresAt };
  }

  private mac(tenantId: string, deviceId: string, expiresSec: number, target: DownloadTarget): Buffer {
    // NUL-separated: no field can contain NUL (the id grammars; verify refuses paths with one).
    const message = [MAC_DOMAIN, tenantId, deviceId, String(expiresSec), target.firmwareId, artifactKeyOf(target)].join('\u0000');
    return createHmac('sha256', this.key).update(message).digest().subarray(0, MAC_BYTES);
  }
}
