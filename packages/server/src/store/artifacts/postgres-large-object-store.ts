import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import type { ArtifactPutResult, ArtifactStore } from '../../core/firmware/artifact-store.js';
import type { Database } from '../schema.js';
import { rethrowAsStoreError } from '../driver-errors.js';
import { checkArtifactKey, exists, tooLarge } from './artifact-keys.js';

/** Bytes per lowrite/lo_get round trip: large enough to keep round trips few, small enough to stay far from memory limits. */
const CHUNK = 256 * 1024;
/** libpq's INV_WRITE (large-object open mode). */
const INV_WRITE = 0x20000;

/**
 * Artifacts as PostgreSQL large objects, for installations whose nodes share only the
 * database. A put streams the source through `lo_create`/`lo_open`/`lowrite` in one
 * transaction, hashing as it goes, and records key → oid, size and SHA-256 in
 * `artifact_objects` in the same transaction: a source that fails, ends early or exceeds the
 * limit rolls it all back (large objects are transactional), so nothing is left. Reads use
 * `lo_get` by offset, one chunk per query, so a range read holds no transaction open.
 */
export class PostgresLargeObjectStore implements ArtifactStore {
  constructor(private readonly db: Kysely<Database>) {}

  async put(key: string, source: AsyncIterable<Uint8Array>, options: { maxBytes: number }): Promise<ArtifactPutResult> {
    checkArtifactKey(key);
    if ((await this.size(key)) !== undefined) throw exists(key);
    // A put racing another under the same key loses at the primary key: StoreError `unique`.
    return this.db.transaction().execute(async (trx) => {
      const created = await sql<{ oid: number }>`SELECT lo_create(0) AS oid`.execute(trx);
      const oid = Number(created.rows[0]!.oid);
      const opened = await sql<{ fd: number }>`SELECT lo_open(${oid}::oid, ${INV_WRITE}::int) AS fd`.execute(trx);
      const fd = Number(opened.rows[0]!.fd);
      const hash = createHash('sha256');
      let size = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        await sql`SELECT lowrite(${fd}::int, ${data}::bytea)`.execute(trx);
      };
      for await (const chunk of source) {
        size += chunk.byteLength;
        if (size > options.maxBytes) throw tooLarge(options.maxBytes);
        hash.update(chunk);
        // A copy: a source may reuse its buffer for the next chunk.
        pending.push(Buffer.from(chunk));
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= CHUNK) await flush();
      }
      await flush();
      await sql`SELECT lo_close(${fd}::int)`.execute(trx);
      const sha256 = hash.digest('hex');
      await trx.insertInto('artifact_objects').values({ key, oid, size, sha256, created_at: Date.now() }).execute();
      return { size, sha256 };
    }).catch(rethrowAsStoreError);
  }

  async size(key: string): Promise<number | undefined> {
    const row = await this.db.selectFrom('artifact_objects').select('size').where('key', '=', key).executeTakeFirst();
    return row ? Number(row.size) : undefined;
  }

  async *read(key: string, range?: { start: number; end: number }): AsyncIterable<Uint8Array> {
    const row = await this.db.selectFrom('artifact_objects').select(['oid', 'size']).where('key', '=', key).executeTakeFirst();
    if (!row) throw new Error(`no artifact "${key}"`);
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? Number(row.size) - 1, Number(row.size) - 1);
    for (let offset = start; offset <= end; offset += CHUNK) {
      const length = Math.min(CHUNK, end - offset + 1);
      const got = await sql<{ data: Buffer }>`SELECT lo_get(${Number(row.oid)}::oid, ${offset}::bigint, ${length}::int) AS data`.execute(this.db);
      yield got.rows[0]!.data;
    }
  }

  async delete(key: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const row = await trx.deleteFrom('artifact_objects').where('key', '=', key).returning('oid').executeTakeFirst();
      if (row) await sql`SELECT lo_unlink(${Number(row.oid)}::oid)`.execute(trx);
    });
  }

  async localFile(key: string): Promise<{ path: string; release(): Promise<void> }> {
    const path = join(tmpdir(), `hangar-artifact-${randomBytes(8).toString('hex')}`);
    try {
      await pipeline(Readable.from(this.read(key)), createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    return { path, release: () => rm(path, { force: true }) };
  }
}
