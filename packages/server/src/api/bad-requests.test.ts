import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';
import { startListeningHangar, type ListeningHangar } from './events-fixture.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection without an answer. */
  closed: boolean;
}

/**
 * One request written byte for byte on a fresh socket: fetch and inject normalise paths
 * (dot segments, invalid escapes), and the point here is what a fuzzer sends.
 */
function raw(port: number, request: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve({ status: 0, headers: {}, body: '', closed: true });
      const [head, ...rest] = text.split('\r\n\r\n');
      const lines = head!.split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = rest.join('\r\n\r\n');
      if (headers['transfer-encoding'] === 'chunked') body = unchunk(body);
      resolve({ status, headers, body, closed: false });
    });
    socket.write(request);
  });
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, nl), 16);
    if (!(size > 0)) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const lines = [`GET ${path} HTTP/1.1`, 'Host: localhost', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return raw(port, `${lines.join('\r\n')}\r\n\r\n`);
}

function expectProblem(answer: RawAnswer, status?: number): Record<string, unknown> {
  expect(answer.status, answer.body).toBeGreaterThanOrEqual(400);
  expect(answer.status, answer.body).toBeLessThan(500);
  if (status !== undefined) expect(answer.status, answer.body).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  expect(body.status).toBe(answer.status);
  return body;
}

describe('malformed HTTP requests get a 4xx problem, never a 500', () => {
  let t: ListeningHangar;
  let port: number;
  let auth: Record<string, string>;
  // A built dashboard, as `hangar serve` has: static file serving is where paths meet the disk.
  const webRoot = mkdtempSync(join(tmpdir(), 'hangar-web-'));

  beforeAll(async () => {
    mkdirSync(join(webRoot, 'assets'));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>Hangar</title>');
    writeFileSync(join(webRoot, 'assets', 'app.js'), 'export {};');
    t = await startListeningHangar('sqlite', { webRoot });
    port = (t.hangar.http.server.address() as AddressInfo).port;
    auth = { Authorization: `Bearer ${t.adminToken}` };
  });
  afterAll(async () => {
    await t?.close();
    rmSync(webRoot, { recursive: true, force: true });
  });

  it.each([
    '/assets/....//....//package.json',
    '/api/v1/devices/....//....//package.json/credentials',
    '/..%5c..%5c..%5cetc%5cpasswd',
    '/pki//efaultdcrl.pem',
    '/pki/%ff/ca.pem',
    '/api/v1/devices/%ff',
    '/api/v1/devices/%ff/credentials',
    '/%ff',
    '/assets/%ff.js',
    '/api/v1/devices/%c0%ae%c0%ae/credentials',
    '/api/v1/devices/a%00b',
  ])('GET %s', async (path) => {
    expectProblem(await get(port, path, auth));
  });

  it('answers a very long path with a 4xx', async () => {
    for (const path of [`/api/v1/devices/${'a'.repeat(20_000)}`, `/${'x/'.repeat(5_000)}`, `/assets/${'%ff'.repeat(3_000)}`]) {
      const answer = await get(port, path, auth);
      expect(answer.closed).toBe(false);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    }
  });

  it('answers an HTTP/2 preface on the HTTP/1.1 port with a 4xx or a clean close', async () => {
    const answer = await raw(port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    if (!answer.closed) {
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    }
  });

  it('refuses an out-of-range Last-Event-ID with 400', async () => {
    for (const id of ['99999999999999999999', '9'.repeat(400), '-1', '1e400']) {
      const body = expectProblem(await get(port, '/api/v1/events/stream', { ...auth, 'Last-Event-ID': id }), 400);
      expect(body.code).toBe('VALIDATION_FAILED');
    }
    const query = expectProblem(await get(port, '/api/v1/events/stream?lastEventId=99999999999999999999', auth), 400);
    expect(query.code).toBe('VALIDATION_FAILED');
  });

  it('refuses a telemetry time beyond any date with 400 naming ts', async () => {
    const created = await t.call('POST', '/api/v1/devices', { body: { id: 'ts-dev' } });
    expect(created.status).toBe(201);
    const cred = await t.call('POST', '/api/v1/devices/ts-dev/credentials', { body: { type: 'token' } });
    const payload = '{"ts":17684712047120471200000,"values":{"temp":21.5}}';
    const answer = await raw(
      port,
      `POST /device/v1/telemetry HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer ${cred.body.token as string}\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n${payload}`,
    );
    const body = expectProblem(answer, 400);
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(String(body.detail)).toMatch(/\bts\b/);
  });

  it('sweeps malformed paths over every registered route prefix without a 500', async () => {
    const prefixes = routePrefixes(t.hangar.http.printRoutes({ commonPrefix: false }));
    expect(prefixes.length).toBeGreaterThan(10);
    const tails = ['....//....//package.json', '%ff', '%ff%fe/x', '..%5c..%5cetc%5cpasswd', '%00', '%2e%2e%2f%2e%2e%2f', `${'z'.repeat(3000)}`, '/', '//x', '%', '%zz', '~', '..;/x'];
    const failures: string[] = [];
    for (const prefix of prefixes) {
      for (const tail of tails) {
        for (const method of ['GET', 'POST', 'DELETE']) {
          const path = `${prefix}${tail}`;
          const body = method === 'POST' ? '{}' : '';
          const answer = await raw(
            port,
            `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer ${t.adminToken}\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : ''}\r\n${body}`,
          );
          if (answer.status >= 500 || answer.closed) failures.push(`${method} ${path.slice(0, 80)} → ${answer.closed ? 'closed' : answer.status}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('x-request-id', () => {
  let t: TestHangar;
  beforeAll(async () => {
    t = await startTestHangar('sqlite');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('keeps a short safe id and replaces anything else', async () => {
    const safe = await t.call('POST', '/api/v1/devices', { body: { id: 'rid-1' }, headers: { 'x-request-id': 'trace-01:ab.c_D' } });
    expect(safe.status).toBe(201);
    const audit = await t.call('GET', '/api/v1/audit?limit=100');
    expect(audit.body.items.some((e: { requestId: string | null }) => e.requestId === 'trace-01:ab.c_D')).toBe(true);

    for (const bad of ['<script>alert(1)</script>', 'a'.repeat(65), 'id with space', 'ümlaut']) {
      // A request that fails inside a route: the handler's detail names the request id.
      const res = await t.call('POST', '/api/v1/devices', { body: { id: `rid-${bad.length}` }, headers: { 'x-request-id': bad } });
      expect(res.status).toBe(201);
      const entries = (await t.call('GET', '/api/v1/audit?limit=100')).body.items as Array<{ requestId: string | null }>;
      expect(entries.some((e) => e.requestId === bad)).toBe(false);
      expect(entries[0]!.requestId).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
    }
  });
});

/**
 * The static part of each registered route, up to its first parameter, from the tree that
 * `printRoutes({ commonPrefix: false })` draws (a child's text continues its parent's path).
 */
function routePrefixes(tree: string): string[] {
  const prefixes = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^(.*?)[└├]── (\S+)/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const full = (depth === 0 && !m[2]!.startsWith('/') ? '/' : '') + (stack[depth - 1] ?? '') + m[2]!;
    stack[depth] = full;
    const cut = full.search(/[:*]/);
    const prefix = cut < 0 ? full : full.slice(0, cut);
    prefixes.add(prefix.endsWith('/') ? prefix : `${prefix}/`);
  }
  return [...prefixes].sort();
}
