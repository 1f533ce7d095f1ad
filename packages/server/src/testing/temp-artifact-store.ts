import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactPutResult, ArtifactStore } from '../core/firmware/artifact-store.js';
import { HangarError } from '../errors.js';

/**
 * A small directory-backed ArtifactStore for tests of delivery and deltas (the registry's own
 * stores replace it where they are wired). Every test reaches artifacts through this file.
 * Writes go to a temporary name and are renamed into place, so a failed put leaves nothing.
 */
export class TempArtifactStore implements ArtifactStore {
  readonly dir: string;
  /** Reads served (tests check that downloads stream from the store by range). */
  readonly reads: Array<{ key: string; range: { start: number; end: number } | undefined }> = [];

  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'hangar-artifacts-'));
  }

  async put(key: string, source: AsyncIterable<Uint8Array>, options: { maxBytes: number }): Promise<ArtifactPutResult> {
    const file = this.pathOf(key);
    await mkdir(dirname(file), { recursive: true });
    const temp = `${file}.${randomBytes(6).toString('hex')}.part`;
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            if (size > options.maxBytes) throw new HangarError('PAYLOAD_TOO_LARGE', `the artifact exceeds ${options.maxBytes} bytes`);
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp),
      );
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return { size, sha256: hash.digest('hex') };
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch {
      return undefined;
    }
  }

  async *read(key: string, range?: { start: number; end: number }): AsyncIterable<Uint8Array> {
    this.reads.push({ key, range });
    yield* createReadStream(this.pathOf(key), range ? { start: range.start, end: range.end } : {});
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async localFile(key: string): Promise<{ path: string; release(): Promise<void> }> {
    const path = this.pathOf(key);
    if ((await this.size(key)) === undefined) throw new HangarError('NOT_FOUND', `no artifact ${key}`);
    return { path, release: async () => undefined };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private pathOf(key: string): string {
    if (!/^(firmware|deltas)\/[A-Za-z0-9_-]+$/.test(key)) throw new Error(`not an artifact key: ${key}`);
    return join(this.dir, key);
  }
}
