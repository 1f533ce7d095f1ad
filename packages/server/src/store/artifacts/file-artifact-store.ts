import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ArtifactPutResult, ArtifactStore } from '../../core/firmware/artifact-store.js';
import { checkArtifactKey, exists, tooLarge } from './artifact-keys.js';

/**
 * Artifacts as files under one directory: `<data-dir>/artifacts` for the embedded default, or
 * a directory several nodes share (`--artifact-dir`, e.g. an NFS mount). A put writes a
 * temporary file in the same directory tree, hashes while it writes, fsyncs, then links it
 * into place atomically (and removes the temporary name): a reader never sees a partial
 * artifact, a cut upload leaves nothing behind, and an existing artifact is never replaced.
 */
export class FileArtifactStore implements ArtifactStore {
  private readonly tmpDir: string;

  constructor(readonly root: string) {
    this.tmpDir = join(root, '.partial');
  }

  async put(key: string, source: AsyncIterable<Uint8Array>, options: { maxBytes: number }): Promise<ArtifactPutResult> {
    const target = this.pathOf(key);
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, `${randomBytes(12).toString('hex')}.part`);
    const file = await open(tmp, 'wx', 0o640);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of source) {
        size += chunk.byteLength;
        if (size > options.maxBytes) throw tooLarge(options.maxBytes);
        hash.update(chunk);
        // One chunk at a time: the source is pulled only as fast as the disk takes it.
        await file.write(chunk);
      }
      await file.sync();
      await file.close();
      await mkdir(dirname(target), { recursive: true });
      // link() rather than rename(): it fails when the key exists, so an artifact is never replaced.
      try {
        await link(tmp, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw exists(key);
        throw err;
      }
      await rm(tmp, { force: true });
      await syncDir(dirname(target));
      return { size, sha256: hash.digest('hex') };
    } catch (err) {
      await file.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async size(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async *read(key: string, range?: { start: number; end: number }): AsyncIterable<Uint8Array> {
    const stream = createReadStream(this.pathOf(key), range ? { start: range.start, end: range.end } : {});
    for await (const chunk of stream) yield chunk as Buffer;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async localFile(key: string): Promise<{ path: string; release(): Promise<void> }> {
    const path = this.pathOf(key);
    if ((await this.size(key)) === undefined) throw new Error(`no artifact "${key}"`);
    return { path, release: async () => undefined };
  }

  private pathOf(key: string): string {
    return join(this.root, ...checkArtifactKey(key).split('/'));
  }
}

/** A rename is durable only once its directory is synced (POSIX); some systems refuse to open a directory for that. */
async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort (e.g. a network file system that does not sync directories).
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
