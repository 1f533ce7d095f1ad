import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createHangar, type Hangar, type HangarOptions } from '../app.js';
import { MasterKey } from '../core/identity/master-key.js';
import type { Dialect } from '../core/stores.js';
import { dropSchema, testDatabaseUrl } from '../testing/test-store.js';

/** One Server-Sent Events frame as a client sees it. */
export interface SseFrame {
  id?: string;
  event: string;
  data: string;
}

/** A real SSE client over a socket: node http, parsing the text/event-stream grammar (WHATWG HTML §9.2.6). */
export class SseClient {
  readonly frames: SseFrame[] = [];
  comments = 0;
  ended = false;
  private buffer = '';
  private waiters: Array<() => void> = [];

  private constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    private readonly res: http.IncomingMessage,
    readonly body: string,
  ) {}

  static open(base: string, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(new SseClient(res.statusCode ?? 0, res.headers, res, body)));
          return;
        }
        const client = new SseClient(200, res.headers, res, '');
        res.setEncoding('utf8');
        let first = true;
        res.on('data', (chunk: string) => {
          client.feed(chunk);
          // The server writes a comment once the subscription is registered: from then on no event is missed.
          if (first) {
            first = false;
            resolve(client);
          }
        });
        res.on('end', () => client.finish());
        res.on('error', () => client.finish());
        res.on('close', () => client.finish());
      });
      req.on('error', reject);
    });
  }

  /** Domain events received (default-type frames), parsed. */
  get events(): Array<{ id: number; type: string; tenant: string; deviceId?: string; at: string; data: Record<string, unknown> }> {
    return this.frames.filter((f) => f.event === 'message').map((f) => JSON.parse(f.data));
  }

  async waitFor(predicate: (c: SseClient) => boolean, what = 'frames'): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!predicate(this)) {
      if (this.ended && !predicate(this)) throw new Error(`stream ended before ${what}; got ${JSON.stringify(this.frames)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  close(): void {
    this.res.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let cut: number;
    while ((cut = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, cut);
      this.buffer = this.buffer.slice(cut + 2);
      const frame: SseFrame = { event: 'message', data: '' };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments++;
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') {
          frame.data += (hasData ? '\n' : '') + value;
          hasData = true;
        }
      }
      if (hasData) this.frames.push(frame);
    }
    this.notify();
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export interface ListeningHangar {
  hangar: Hangar;
  base: string;
  adminToken: string;
  dataDir: string;
  /** Same data (dir, schema, master key), new process state: a restart (options may change). */
  restart(overrides?: Partial<HangarOptions>): Promise<void>;
  close(): Promise<void>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers of any route
  call(method: string, path: string, options?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
}

/** A Hangar listening on 127.0.0.1:0, for clients that need a real socket. */
export async function startListeningHangar(kind: Dialect, extra: Partial<HangarOptions> = {}): Promise<ListeningHangar> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-ev-'));
  const adminToken = `hk_test_${randomBytes(18).toString('base64url')}`;
  const databaseUrl = kind === 'postgres' ? testDatabaseUrl() : undefined;
  const schema = kind === 'postgres' ? `hangar_t_${randomBytes(6).toString('hex')}` : undefined;
  const masterKey = MasterKey.forTests();
  const open = async (overrides: Partial<HangarOptions> = {}): Promise<{ hangar: Hangar; base: string }> => {
    const hangar = await createHangar({ dataDir, databaseUrl, databaseSchema: schema, adminToken, masterKey, logger: pino({ level: 'silent' }), webRoot: join(dataDir, 'no-web'), ...extra, ...overrides });
    await hangar.http.listen({ port: 0, host: '127.0.0.1' });
    const port = (hangar.http.server.address() as AddressInfo).port;
    return { hangar, base: `http://127.0.0.1:${port}` };
  };
  const state = await open();
  const self: ListeningHangar = {
    get hangar() {
      return state.hangar;
    },
    get base() {
      return state.base;
    },
    adminToken,
    dataDir,
    async restart(overrides) {
      await state.hangar.close();
      Object.assign(state, await open(overrides));
    },
    async close() {
      await state.hangar.close();
      if (databaseUrl && schema) await dropSchema(databaseUrl, schema);
      rmSync(dataDir, { recursive: true, force: true });
    },
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      const token = options.token === undefined ? adminToken : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const init: RequestInit = { method, headers };
      if (options.body !== undefined) {
        init.body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetch(`${state.base}${path}`, init);
      const text = await res.text();
      const type = res.headers.get('content-type') ?? '';
      return { status: res.status, body: type.includes('json') && text !== '' ? JSON.parse(text) : text, headers: Object.fromEntries(res.headers.entries()) };
    },
  };
  return self;
}
