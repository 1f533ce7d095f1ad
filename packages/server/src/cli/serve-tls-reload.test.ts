import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar } from '../app.js';
import { MasterKey } from '../core/identity/master-key.js';
import { OpensslWorkspace } from '../testing/openssl.js';
import { serve, type Serving } from './serve.js';
import { resolveServeOptions } from './serve-options.js';

/** A TLS handshake with the port; the socket stays open, and the CN the server presented. */
function handshake(port: number): Promise<{ socket: TLSSocket; cn: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve({ socket, cn: String(socket.getPeerCertificate().subject.CN) }));
    socket.once('error', reject);
  });
}

async function presented(port: number): Promise<string> {
  const { socket, cn } = await handshake(port);
  socket.destroy();
  return cn;
}

describe('TLS certificate reload while serving', () => {
  const ssl = new OpensslWorkspace();
  const dirs: string[] = [];
  let serving: Serving;
  let certFile: string;
  let keyFile: string;
  const logLevel = process.env.HANGAR_LOG_LEVEL;

  beforeAll(async () => {
    // The wrong-file case logs an error by design.
    process.env.HANGAR_LOG_LEVEL = 'fatal';
    for (const name of ['one', 'two']) {
      await ssl.ok(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${name}.example`]);
    }
    const dir = mkdtempSync(join(tmpdir(), 'hangar-tls-reload-'));
    dirs.push(dir);
    certFile = join(dir, 'server.pem');
    keyFile = join(dir, 'server.key');
    copyFileSync(ssl.path('one.pem'), certFile);
    copyFileSync(ssl.path('one.key'), keyFile);
    const flags = { dataDir: join(dir, 'data'), host: '127.0.0.1', httpPort: '0', httpsPort: '0', mqttPort: 'off', mqttsPort: '0', coapPort: 'off', coapsPort: 'off', tlsCert: certFile, tlsKey: keyFile };
    serving = await serve(resolveServeOptions(flags, {}), { write: () => true } as unknown as NodeJS.WritableStream);
  });
  afterAll(async () => {
    await serving?.stop();
    if (logLevel === undefined) delete process.env.HANGAR_LOG_LEVEL;
    else process.env.HANGAR_LOG_LEVEL = logLevel;
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    ssl.cleanup();
  });

  it('switches HTTPS and MQTTS to rotated files for new handshakes; open connections stay', async () => {
    const ports = [serving.endpoints.https!, serving.endpoints.mqtts!];
    const open = await handshake(ports[1]!);
    expect(open.cn).toBe('one.example');
    for (const port of ports) expect(await presented(port)).toBe('one.example');

    expect(await serving.reloadTls()).toBe(false); // nothing changed
    copyFileSync(ssl.path('two.pem'), certFile);
    copyFileSync(ssl.path('two.key'), keyFile);
    expect(await serving.reloadTls()).toBe(true);
    for (const port of ports) expect(await presented(port)).toBe('two.example');
    expect(open.socket.destroyed).toBe(false);
    open.socket.destroy();
  });

  it('keeps the current certificate when the files are wrong (half-written, or a key of another certificate)', async () => {
    copyFileSync(ssl.path('two.pem'), certFile);
    copyFileSync(ssl.path('two.key'), keyFile);
    await serving.reloadTls();
    writeFileSync(keyFile, 'not a key');
    expect(await serving.reloadTls()).toBe(false);
    copyFileSync(ssl.path('one.key'), keyFile); // the key of the other certificate
    expect(await serving.reloadTls()).toBe(false);
    for (const port of [serving.endpoints.https!, serving.endpoints.mqtts!]) expect(await presented(port)).toBe('two.example');
  });
});

describe('generated server certificate renewal', () => {
  it('renews a certificate near its expiry on reload, from the same installation CA', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-tls-renew-'));
    let now = Date.now();
    const hangar = await createHangar({ dataDir, masterKey: MasterKey.forTests(), logger: pino({ level: 'silent' }), now: () => now });
    try {
      const first = hangar.serverTls;
      expect(await hangar.reloadServerTls()).toBeUndefined();
      now += 380 * 24 * 3600 * 1000; // 17 days before the 397-day certificate ends
      const renewed = await hangar.reloadServerTls();
      expect(renewed).toBeDefined();
      expect(hangar.serverTls).toBe(renewed);
      expect(renewed!.caPem).toBe(first.caPem);
      const cert = new X509Certificate(renewed!.certificatePem);
      expect(Date.parse(cert.validTo)).toBeGreaterThan(now + 300 * 24 * 3600 * 1000);
      expect(cert.checkIssued(new X509Certificate(first.caPem!))).toBe(true);
    } finally {
      await hangar.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
