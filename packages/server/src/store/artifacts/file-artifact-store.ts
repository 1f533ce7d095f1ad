import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ArtifactPutResult, ArtifactStore } from '../../core/firmware/artifact-store.js';
import { checkArtifactKey, tooLarge } from './artifact-keys.js';

/**
 * Artifacts as files under one directory: `<data-dir>/artifacts` for the embedded default, or
 * a directory several nodes share (`--artifact-dir`, e.g. an NFS mount). A put writes a
 * temporary file in the same directory tree (so the rename is atomic), hashes while it
 * writes, fsyncs, then renames it into place: a reader never sees a partial artifact and a cut
 * upload leaves nothing behind.
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
      await rename(tmp, target);
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
