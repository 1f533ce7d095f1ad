import { HangarError } from '../../errors.js';
import type { ArtifactStore } from './artifact-store.js';
import type { DownloadGrant, DownloadTarget, DownloadTokens } from './download-tokens.js';

/** An artifact a device may download, opened for reading by byte range. */
export interface OpenArtifact {
  grant: DownloadGrant;
  size: number;
  /**
   * The artifact key, quoted (RFC 9110 §8.8.3): artifacts never change once written, so the key
   * is a strong validator.
   */
  etag: string;
  /** Streams bytes `start..end` (inclusive), or all of them; never holds the artifact whole. */
  read(range?: { start: number; end: number }): AsyncIterable<Uint8Array>;
}

/**
 * The device's side of firmware delivery, as the HTTP and CoAP device APIs reach it: a URL's
 * path and token in, a readable artifact out. The token is the only credential (no device
 * authentication), so a download resumes with nothing but its URL.
 */
export class ArtifactDownloads {
  constructor(
    private readonly tokens: Pick<DownloadTokens, 'verify'>,
    private readonly artifacts: ArtifactStore,
  ) {}

  async open(target: DownloadTarget, token: string | undefined): Promise<OpenArtifact> {
    const grant = this.tokens.verify(target, token);
    const size = await this.artifacts.size(grant.artifactKey);
    if (size === undefined) throw new HangarError('NOT_FOUND', `${target.deltaId === undefined ? 'the firmware image' : 'the delta'} is no longer available`);
    const key = grant.artifactKey;
    return { grant, size, etag: `"${key}"`, read: (range) => this.artifacts.read(key, range) };
  }
}
