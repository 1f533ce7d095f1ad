import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Serving } from './serve.js';
import { resolveServeOptions } from './serve-options.js';

/** Writes `bytes` on a fresh connection and reads until the server closes it. */
function exchange(open: () => Socket, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = open();
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.write(bytes);
  });
}

/**
 * What the request parser refuses (an HTTP/2 preface sent to an HTTP/1.1 port) gets a 400
 * problem document on both ports `hangar serve` binds, then the connection closes.
 */
describe('unparsable requests on the HTTP and HTTPS ports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-serve-bad-'));
  let serving: Serving;

  beforeAll(async () => {
    const flags = { dataDir: join(dir, 'data'), host: '127.0.0.1', httpPort: '0', httpsPort: '0', mqttPort: 'off', mqttsPort: 'off', coapPort: 'off', coapsPort: 'off' };
    serving = await serve(resolveServeOptions(flags, {}), { write: () => true } as unknown as NodeJS.WritableStream);
  });
  afterAll(async () => {
    await serving?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

  it.each(['http', 'https'] as const)('answers an HTTP/2 preface on %s with a 400 problem', async (port) => {
    const p = serving.endpoints[port]!;
    const open = port === 'http' ? () => connectTcp(p, '127.0.0.1') : () => connectTls({ port: p, host: '127.0.0.1', rejectUnauthorized: false });
    const answer = await exchange(open, preface);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/content-type: application\/problem\+json/i);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { status: number; code: string };
    expect(body).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });
});
