import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type LogEvent } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArtifactStore } from '../../core/firmware/artifact-store.js';
import { StoreError } from '../../core/stores.js';
import { hasCode } from '../../errors.js';
import { dropSchema, testDatabaseUrl } from '../../testing/test-store.js';
import { migrateToLatest, openStore, type StoreConnection } from '../database.js';
import { FileArtifactStore } from './file-artifact-store.js';
import { PostgresLargeObjectStore } from './postgres-large-object-store.js';

interface Subject {
  store: ArtifactStore;
  /** Bytes the store has handed to its medium so far in the put under way. */
  written(): Promise<number>;
  /** Whatever a failed put could have left behind (files, rows, large objects). */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

async function fileSubject(): Promise<Subject> {
  const root = mkdtempSync(join(tmpdir(), 'hangar-artifacts-'));
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
  return {
    store: new FileArtifactStore(root),
    async written() {
      return files(join(root, '.partial')).reduce((n, f) => n + statSync(f).size, 0);
    },
    async leftovers() {
      return files(root);
    },
    async close() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function postgresSubject(): Promise<Subject> {
  const databaseUrl = testDatabaseUrl();
  const schema = `hangar_t_${randomBytes(6).toString('hex')}`;
  let written = 0;
  const opened: number[] = [];
  // The query log shows what reached PostgreSQL: each lowrite's bytes, each lo_open's object.
  const onQuery = (e: LogEvent): void => {
    const text = e.query.sql;
    if (text.includes('lowrite(')) written += (e.query.parameters[1] as Buffer).length;
    if (text.includes('lo_open(')) opened.push(Number(e.query.parameters[0]));
  };
  const conn: StoreConnection = await openStore({ dataDir: tmpdir(), databaseUrl, schema, onQuery });
  await migrateToLatest(conn);
  return {
    store: new PostgresLargeObjectStore(conn.db),
    async written() {
      return written;
    },
    async leftovers() {
      const rows = await conn.db.selectFrom('artifact_objects').select('key').execute();
      const objects = opened.length === 0 ? [] : (await sql<{ oid: number }>`SELECT oid FROM pg_largeobject_metadata WHERE oid IN (${sql.join(opened)})`.execute(conn.db)).rows;
      return [...rows.map((r) => `row ${r.key}`), ...objects.map((o) => `large object ${o.oid}`)];
    },
    async close() {
      await conn.close();
      await dropSchema(databaseUrl, schema);
    },
  };
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function* chunksOf(data: Buffer, size = 1000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe.each([
  ['file', fileSubject],
  ['postgres', postgresSubject],
] as const)('ArtifactStore contract: %s', (_name, make) => {
  let s: Subject;
  beforeAll(async () => {
    s = await make();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('puts, sizes, reads whole and in ranges, and deletes', async () => {
    const data = randomBytes(700_000);
    const put = await s.store.put('firmware/fw_a', chunksOf(data, 4096), { maxBytes: 1_000_000 });
    expect(put).toEqual({ size: data.length, sha256: sha(data) });
    expect(await s.store.size('firmware/fw_a')).toBe(data.length);
    expect((await collect(s.store.read('firmware/fw_a'))).equals(data)).toBe(true);
    expect((await collect(s.store.read('firmware/fw_a', { start: 0, end: 0 }))).equals(data.subarray(0, 1))).toBe(true);
    expect((await collect(s.store.read('firmware/fw_a', { start: 262_000, end: 600_123 }))).equals(data.subarray(262_000, 600_124))).toBe(true);
    expect((await collect(s.store.read('firmware/fw_a', { start: data.length - 10, end: data.length - 1 }))).equals(data.subarray(-10))).toBe(true);
    const local = await s.store.localFile('firmware/fw_a');
    expect(sha(readFileSync(local.path))).toBe(sha(data));
    await local.release();
    await s.store.delete('firmware/fw_a');
    expect(await s.store.size('firmware/fw_a')).toBeUndefined();
    await s.store.delete('firmware/fw_a'); // deleting what is gone is not an error
    expect(await s.leftovers()).toEqual([]);
  });

  it('keeps an empty artifact as zero bytes', async () => {
    expect(await s.store.put('deltas/d_empty', chunksOf(Buffer.alloc(0)), { maxBytes: 10 })).toEqual({ size: 0, sha256: sha(Buffer.alloc(0)) });
    expect(await s.store.size('deltas/d_empty')).toBe(0);
    await s.store.delete('deltas/d_empty');
  });

  it('leaves nothing when the source fails midway', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield randomBytes(300_000);
      yield randomBytes(300_000);
      throw new Error('connection reset');
    }
    await expect(s.store.put('firmware/fw_cut', failing(), { maxBytes: 10_000_000 })).rejects.toThrow('connection reset');
    expect(await s.store.size('firmware/fw_cut')).toBeUndefined();
    expect(await s.leftovers()).toEqual([]);
  });

  it('refuses more than maxBytes with payload_too_large and leaves nothing', async () => {
    const err = await s.store.put('firmware/fw_big', chunksOf(randomBytes(5000), 1000), { maxBytes: 4999 }).catch((e: unknown) => e);
    expect(hasCode(err, 'PAYLOAD_TOO_LARGE')).toBe(true);
    expect(await s.store.size('firmware/fw_big')).toBeUndefined();
    expect(await s.leftovers()).toEqual([]);
    // Exactly the limit is allowed.
    expect((await s.store.put('firmware/fw_edge', chunksOf(randomBytes(4999), 1000), { maxBytes: 4999 })).size).toBe(4999);
    await s.store.delete('firmware/fw_edge');
  });

  it('streams a 20 MiB put: the source is never read far ahead of what was written', async () => {
    const total = 20 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024);
    const hash = createHash('sha256');
    let yielded = 0;
    let worstLead = 0;
    // One buffer, refilled for every chunk: a store that kept references would corrupt its copy.
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; yielded < total; i++) {
        chunk.fill(i % 251);
        hash.update(chunk);
        if (yielded > 0) worstLead = Math.max(worstLead, yielded - (await s.written()));
        yielded += chunk.length;
        yield chunk;
      }
    }
    const put = await s.store.put('firmware/fw_20m', source(), { maxBytes: total });
    expect(put).toEqual({ size: total, sha256: hash.digest('hex') });
    // What was pulled but not yet written stays within a small window (1 MiB), whatever the image size.
    expect(worstLead).toBeLessThanOrEqual(1024 * 1024);
    const readBack = createHash('sha256');
    for await (const c of s.store.read('firmware/fw_20m')) readBack.update(c);
    expect(readBack.digest('hex')).toBe(put.sha256);
    await s.store.delete('firmware/fw_20m');
    expect(await s.leftovers()).toEqual([]);
  });

  it('never replaces an artifact: a second put under its key is refused and the first stays', async () => {
    const first = randomBytes(3000);
    await s.store.put('firmware/fw_once', chunksOf(first), { maxBytes: 10_000 });
    const err = await s.store.put('firmware/fw_once', chunksOf(randomBytes(2000)), { maxBytes: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).reason).toBe('unique');
    expect((await collect(s.store.read('firmware/fw_once'))).equals(first)).toBe(true);
    await s.store.delete('firmware/fw_once');
    expect(await s.leftovers()).toEqual([]);
  });

  it('refuses keys that could leave the store', async () => {
    await expect(s.store.put('../etc/passwd', chunksOf(Buffer.from('x')), { maxBytes: 10 })).rejects.toThrow('invalid artifact key');
  });
});
