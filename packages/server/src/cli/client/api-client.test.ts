import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, HangarUnreachableError, collectAll, normaliseBaseUrl } from './api-client.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let seen: Seen[] = [];
let handler: Handler = (_req, res) => res.writeHead(204).end();

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
});

function answer(status: number, body: unknown, type = 'application/json'): void {
  handler = (_req, res) => res.writeHead(status, { 'content-type': type }).end(typeof body === 'string' ? body : JSON.stringify(body));
}

describe('ApiClient', () => {
  it('sends the bearer token and a JSON body under /api/v1', async () => {
    answer(201, { id: 'd1' });
    const client = new ApiClient({ baseUrl: base, token: 'tok' });
    const device = await client.createDevice({ id: 'd1', tags: { a: 'b' } });
    expect(device).toEqual({ id: 'd1' });
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/devices', body: '{"id":"d1","tags":{"a":"b"}}' });
    expect(seen[0]?.headers.authorization).toBe('Bearer tok');
    expect(seen[0]?.headers['content-type']).toBe('application/json');
  });

  it('encodes ids and query parameters, leaving out the unset ones', async () => {
    answer(200, { items: [], nextCursor: null });
    const client = new ApiClient({ baseUrl: base, token: 't' });
    await client.listDevices({ q: 'tags.site = "a b"', limit: 5 });
    await client.getDevice('a:b/c').catch(() => undefined);
    expect(seen[0]?.url).toBe('/api/v1/devices?q=tags.site+%3D+%22a+b%22&limit=5');
    expect(seen[1]?.url).toBe('/api/v1/devices/a%3Ab%2Fc');
  });

  it('keeps a path prefix of the base URL and does not double /api/v1', async () => {
    answer(200, { items: [], nextCursor: null });
    await new ApiClient({ baseUrl: `${base}/hangar/`, token: 't' }).listDevices();
    await new ApiClient({ baseUrl: `${base}/api/v1/`, token: 't' }).listDevices();
    expect(seen.map((s) => s.url)).toEqual(['/hangar/api/v1/devices', '/api/v1/devices']);
  });

  it('resolves a 204 with undefined', async () => {
    handler = (_req, res) => res.writeHead(204).end();
    await expect(new ApiClient({ baseUrl: base, token: 't' }).deleteDevice('x')).resolves.toBeUndefined();
  });

  it('decodes a problem document into an ApiError', async () => {
    answer(
      400,
      { type: 'about:blank', title: 'Invalid fleet query', status: 400, detail: 'unexpected "%"', code: 'INVALID_QUERY', position: 12, length: 1 },
      'application/problem+json',
    );
    const err = (await new ApiClient({ baseUrl: base, token: 't' }).listDevices({ q: 'x' }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, title: 'Invalid fleet query', detail: 'unexpected "%"', code: 'INVALID_QUERY', position: 12, length: 1 });
  });

  it('keeps validation field errors', async () => {
    answer(400, { title: 'Invalid request', status: 400, code: 'VALIDATION_FAILED', errors: [{ path: 'body/id', message: 'too long' }, 'junk'] }, 'application/problem+json');
    const err = (await new ApiClient({ baseUrl: base, token: 't' }).createDevice({ id: 'x' }).catch((e: unknown) => e)) as ApiError;
    expect(err.errors).toEqual([{ path: 'body/id', message: 'too long' }]);
    expect(err.detail).toBeUndefined();
  });

  it('reads an error that is not JSON (a proxy in the way)', async () => {
    answer(502, 'upstream unavailable', 'text/plain');
    const err = (await new ApiClient({ baseUrl: base, token: 't' }).getDevice('x').catch((e: unknown) => e)) as ApiError;
    expect(err).toMatchObject({ status: 502, title: 'Bad Gateway', detail: 'upstream unavailable', code: undefined });
    answer(503, '<html>busy</html>', 'text/html');
    const html = (await new ApiClient({ baseUrl: base, token: 't' }).getDevice('x').catch((e: unknown) => e)) as ApiError;
    expect(html).toMatchObject({ status: 503, title: 'Service Unavailable', detail: undefined });
  });

  it('reports a success body that is not JSON as an error', async () => {
    answer(200, 'not json', 'text/plain');
    await expect(new ApiClient({ baseUrl: base, token: 't' }).getDevice('x')).rejects.toMatchObject({ title: 'Unexpected response' });
  });

  it('streams an async iterable body with its content type', async () => {
    answer(200, { created: 2, updated: 0, unchanged: 0, failed: 0, errors: [], errorsTruncated: false });
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('id\n');
      yield Buffer.from('a\nb\n');
    }
    const result = await new ApiClient({ baseUrl: base, token: 't' }).importDevices(body(), 'text/csv');
    expect(result.created).toBe(2);
    expect(seen[0]).toMatchObject({ url: '/api/v1/devices/import', body: 'id\na\nb\n' });
    expect(seen[0]?.headers['content-type']).toBe('text/csv');
    expect(seen[0]?.headers['transfer-encoding']).toBe('chunked');
  });

  it('reads a bare array list as one page', async () => {
    answer(200, [{ id: 'u1' }]);
    await expect(new ApiClient({ baseUrl: base, token: 't' }).listUsers()).resolves.toEqual({ items: [{ id: 'u1' }], nextCursor: null });
  });

  it('says which server it could not reach and why', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const err = (await new ApiClient({ baseUrl: `http://127.0.0.1:${port}/`, token: 't' }).listDevices().catch((e: unknown) => e)) as HangarUnreachableError;
    expect(err).toBeInstanceOf(HangarUnreachableError);
    expect(err.message).toBe(`cannot reach Hangar at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });
});

describe('normaliseBaseUrl', () => {
  it.each([
    ['http://localhost:8080', 'http://localhost:8080'],
    ['http://localhost:8080/', 'http://localhost:8080'],
    ['https://h.example/x/?a=1#f', 'https://h.example/x'],
  ])('normalises %s', (input, output) => {
    expect(normaliseBaseUrl(input)).toBe(output);
  });

  it.each(['localhost:8080', 'nonsense', 'ftp://h/'])('rejects %s', (input) => {
    expect(() => normaliseBaseUrl(input)).toThrow(/^invalid Hangar URL/);
  });
});

describe('collectAll', () => {
  it('follows nextCursor from a starting cursor to the end', async () => {
    const pages: Record<string, { items: number[]; nextCursor: string | null }> = {
      start: { items: [1, 2], nextCursor: 'b' },
      b: { items: [3], nextCursor: 'c' },
      c: { items: [4], nextCursor: null },
    };
    const asked: Array<string | undefined> = [];
    const items = await collectAll(async (cursor) => {
      asked.push(cursor);
      return pages[cursor ?? 'start']!;
    }, 'b');
    expect(items).toEqual([3, 4]);
    expect(asked).toEqual(['b', 'c']);
  });
});
