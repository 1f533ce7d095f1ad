/**
 * The artifact-store port (issue 11): firmware images and deltas as opaque, immutable byte
 * blobs under a key. Implementations: a directory (the data dir for the embedded default, or a
 * shared directory several nodes mount) and PostgreSQL large objects. Keys are
 * `firmware/{firmwareId}` for images and `deltas/{deltaId}` for deltas, so an artifact's key
 * is also its ETag: artifacts never change once written.
 */
export interface ArtifactPutResult {
  size: number;
  /** Lower-case hex SHA-256 of the bytes stored. */
  sha256: string;
}

export interface ArtifactStore {
  /**
   * Streams `source` into a new artifact; never holds it whole in memory. Resolves once the
   * bytes are durable. Rejects — and leaves nothing under `key` — when the source errors, ends
   * early, or exceeds `maxBytes` (with a HangarError `payload_too_large`). Artifacts are never
   * replaced: a put under a key that exists rejects with StoreError `unique`, the artifact intact.
   */
  put(key: string, source: AsyncIterable<Uint8Array>, options: { maxBytes: number }): Promise<ArtifactPutResult>;
  /** Size in bytes, or undefined when there is no such artifact. */
  size(key: string): Promise<number | undefined>;
  /** The bytes `start..end` (inclusive; default all), streamed. */
  read(key: string, range?: { start: number; end: number }): AsyncIterable<Uint8Array>;
  delete(key: string): Promise<void>;
  /**
   * A local file holding the artifact, for tools that need a file (the delta builder): the
   * file itself for a directory store, a temporary copy otherwise. `release` removes a copy.
   */
  localFile(key: string): Promise<{ path: string; release(): Promise<void> }>;
}

export function firmwareArtifactKey(firmwareId: string): string {
  return `firmware/${firmwareId}`;
}

export function deltaArtifactKey(deltaId: string): string {
  return `deltas/${deltaId}`;
}
