import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OpensslWorkspace } from '../../testing/openssl.js';
import { MasterKey } from './master-key.js';
import { loadOrCreateServerTls } from './server-tls.js';

describe('server TLS certificate', () => {
  const dirs: string[] = [];
  const ssl = new OpensslWorkspace();
  const masterKey = MasterKey.forTests();
  const freshDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'hangar-tls-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    ssl.cleanup();
  });

  it('makes an installation CA and a server certificate that openssl verifies for localhost and 127.0.0.1', async () => {
    const dataDir = freshDir();
    const tls = await loadOrCreateServerTls({ dataDir, masterKey });
    expect(tls.source).toBe('generated');
    ssl.write('server-ca.pem', tls.caPem!);
    ssl.write('server.pem', tls.certificatePem);
    expect(await ssl.ok(['verify', '-CAfile', 'server-ca.pem', '-purpose', 'sslserver', '-verify_hostname', 'localhost', 'server.pem'])).toContain('OK');
    expect(await ssl.ok(['verify', '-CAfile', 'server-ca.pem', '-purpose', 'sslserver', '-verify_ip', '127.0.0.1', 'server.pem'])).toContain('OK');
    expect((await ssl.run(['verify', '-CAfile', 'server-ca.pem', '-verify_hostname', 'evil.example', 'server.pem'])).code).not.toBe(0);
    // The keys on disk are sealed with the master key, and private to the owner.
    const sealed = readFileSync(join(dataDir, 'tls', 'server-ca.key.sealed'), 'utf8');
    expect(sealed).not.toContain('PRIVATE KEY');
    expect(statSync(join(dataDir, 'tls', 'server-ca.key.sealed')).mode & 0o077).toBe(0);
    expect(new X509Certificate(tls.certificatePem).checkPrivateKey((await import('node:crypto')).createPrivateKey(tls.privateKeyPem))).toBe(true);
  });

  it('keeps the CA and certificate across restarts, and re-makes only the certificate for new names', async () => {
    const dataDir = freshDir();
    const first = await loadOrCreateServerTls({ dataDir, masterKey });
    const second = await loadOrCreateServerTls({ dataDir, masterKey });
    expect(second).toEqual(first);
    const wider = await loadOrCreateServerTls({ dataDir, masterKey, hostnames: ['hangar.example.com', '10.1.2.3'] });
    expect(wider.caPem).toBe(first.caPem);
    expect(wider.certificatePem).not.toBe(first.certificatePem);
    const cert = new X509Certificate(wider.certificatePem);
    expect(cert.checkHost('hangar.example.com')).toBe('hangar.example.com');
    expect(cert.checkIP('10.1.2.3')).toBe('10.1.2.3');
  });

  it('re-makes a certificate that is about to expire', async () => {
    const dataDir = freshDir();
    const first = await loadOrCreateServerTls({ dataDir, masterKey });
    const later = Date.now() + 380 * 24 * 3600 * 1000;
    const renewed = await loadOrCreateServerTls({ dataDir, masterKey, now: () => later });
    expect(renewed.certificatePem).not.toBe(first.certificatePem);
    expect(Date.parse(new X509Certificate(renewed.certificatePem).validTo)).toBeGreaterThan(later + 300 * 24 * 3600 * 1000);
  });

  it('uses an operator certificate as given, and refuses a key that does not match or files that are not PEM', async () => {
    await ssl.ok(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'op.key', '-out', 'op.pem', '-days', '30', '-subj', '/CN=op.example']);
    await ssl.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.key']);
    const dataDir = freshDir();
    const given = await loadOrCreateServerTls({ dataDir, masterKey, certFile: ssl.path('op.pem'), keyFile: ssl.path('op.key') });
    expect(given).toMatchObject({ source: 'provided', caPem: null, certificatePem: ssl.read('op.pem') });
    await expect(loadOrCreateServerTls({ dataDir, masterKey, certFile: ssl.path('op.pem'), keyFile: ssl.path('other.key') })).rejects.toThrow(/not the key of the certificate/);
    await expect(loadOrCreateServerTls({ dataDir, masterKey, certFile: ssl.path('other.key'), keyFile: ssl.path('op.key') })).rejects.toThrow(/not a PEM certificate/);
    await expect(loadOrCreateServerTls({ dataDir, masterKey, certFile: ssl.path('op.pem'), keyFile: ssl.path('missing.key') })).rejects.toThrow(/--tls-key/);
    await expect(loadOrCreateServerTls({ dataDir, masterKey, certFile: ssl.path('op.pem') })).rejects.toThrow(/go together/);
  });
});
