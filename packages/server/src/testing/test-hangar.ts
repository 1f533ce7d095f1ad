import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createHangar, type Hangar, type HangarOptions } from '../app.js';
import type { Dialect } from '../core/stores.js';
import { dropSchema, testDatabaseUrl } from './test-store.js';

export interface TestHangar {
  hangar: Hangar;
  adminToken: string;
  /** `app.inject` with the admin key unless `token` says otherwise (null: no credentials). */
  call(method: string, url: string, options?: { body?: unknown; token?: string | null; headers?: Record<string, string>; payload?: string | Buffer }): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** A whole Hangar (store, services, HTTP app) on a fresh SQLite dir or PostgreSQL schema, without a socket. */
export async function startTestHangar(kind: Dialect = 'sqlite', overrides: Partial<HangarOptions> = {}): Promise<TestHangar> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-api-'));
  const adminToken = `hk_test_${randomBytes(18).toString('base64url')}`;
  const databaseUrl = kind === 'postgres' ? testDatabaseUrl() : undefined;
  const schema = kind === 'postgres' ? `hangar_t_${randomBytes(6).toString('hex')}` : undefined;
  const hangar = await createHangar({ dataDir, databaseUrl, databaseSchema: schema, adminToken, logger: pino({ level: 'silent' }), webRoot: join(dataDir, 'no-web'), ...overrides });
  return {
    hangar,
    adminToken,
    async call(method, url, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      const token = options.token === undefined ? adminToken : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let payload: string | Buffer | undefined = options.payload;
      if (options.body !== undefined) {
        payload = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await hangar.http.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
      let body: unknown = res.body;
      if ((res.headers['content-type'] ?? '').toString().includes('json') && res.body !== '') body = JSON.parse(res.body);
      return { status: res.statusCode, body, headers: res.headers };
    },
    async close() {
      await hangar.close();
      if (databaseUrl && schema) await dropSchema(databaseUrl, schema);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
