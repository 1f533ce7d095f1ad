import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HANGAR_BIN, startHangar } from './support/hangar-process.js';

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [HANGAR_BIN, ...args], { env: { ...process.env, HANGAR_FROM_SOURCE: '1', HANGAR_LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('hangar serve', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('prints the listening line, writes endpoints.json, and omits disabled listeners', async () => {
    const h = await startHangar();
    try {
      expect(h.endpoints.event).toBe('listening');
      expect(typeof h.endpoints.http).toBe('number');
      expect(h.endpoints).not.toHaveProperty('mqtt');
      const file = JSON.parse(readFileSync(join(h.dataDir, 'endpoints.json'), 'utf8')) as unknown;
      expect(file).toEqual(h.endpoints);
      expect(existsSync(join(h.dataDir, 'hangar.db'))).toBe(true);
      const res = await fetch(`${h.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${h.adminToken}` } });
      expect(await res.json()).toMatchObject({ tenant: 'default', role: 'admin' });
    } finally {
      await h.stop();
    }
  });

  it('serves the same API over HTTPS with a certificate from the installation CA at /pki/server-ca.pem', async () => {
    const h = await startHangar({ args: ['--https-port', '0'] });
    try {
      expect(typeof h.endpoints.https).toBe('number');
      expect(JSON.parse(readFileSync(join(h.dataDir, 'endpoints.json'), 'utf8'))).toEqual(h.endpoints);
      const caPem = await (await fetch(`${h.url}/pki/server-ca.pem`)).text();
      expect(caPem).toContain('BEGIN CERTIFICATE');
      const get = (ca: string | undefined) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port: Number(h.endpoints.https), servername: 'localhost', path: '/api/v1/auth/me', ca, headers: { authorization: `Bearer ${h.adminToken}` } }, (r) => {
            let body = '';
            r.on('data', (c: Buffer) => (body += c.toString()));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
      const res = await get(caPem);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ tenant: 'default' });
      // Without the installation CA a client refuses the certificate: it is not a public one.
      await expect(get(undefined)).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    } finally {
      await h.stop();
    }
  });

  it('reloads rotated --tls-cert/--tls-key files on SIGHUP, and keeps running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hangar-sighup-'));
    dirs.push(dir);
    const make = (name: string): void => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`), '-days', '30', '-subj', `/CN=${name}.example`], { stdio: 'ignore' });
    };
    make('first');
    make('second');
    copyFileSync(join(dir, 'first.pem'), join(dir, 'tls.pem'));
    copyFileSync(join(dir, 'first.key'), join(dir, 'tls.key'));
    const h = await startHangar({ args: ['--mqtts-port', '0', '--tls-cert', join(dir, 'tls.pem'), '--tls-key', join(dir, 'tls.key')] });
    const presented = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ port: Number(h.endpoints.mqtts), host: '127.0.0.1', rejectUnauthorized: false }, () => {
          resolve(String(s.getPeerCertificate().subject.CN));
          s.destroy();
        });
        s.once('error', reject);
      });
    try {
      expect(await presented()).toBe('first.example');
      copyFileSync(join(dir, 'second.pem'), join(dir, 'tls.pem'));
      copyFileSync(join(dir, 'second.key'), join(dir, 'tls.key'));
      h.process.kill('SIGHUP');
      let cn = '';
      for (let i = 0; i < 100 && cn !== 'second.example'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        cn = await presented();
      }
      expect(cn, h.logs()).toBe('second.example');
      expect(h.process.exitCode).toBeNull();
    } finally {
      await h.stop();
    }
    expect(h.process.exitCode).toBe(0);
  });

  it('stops promptly on SIGTERM while devices are connected over MQTT and TLS', async () => {
    const h = await startHangar({ args: ['--mqtt-port', '0', '--mqtts-port', '0', '--https-port', '0'] });
    // Idle connections that never send anything: the server must end them, not wait for them.
    const sockets = await Promise.all(
      [h.endpoints.mqtt, h.endpoints.mqtts].map(
        (port) =>
          new Promise<Socket>((resolve, reject) => {
            const s = connect(Number(port), '127.0.0.1', () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    try {
      const started = Date.now();
      await h.stop();
      expect({ code: h.process.exitCode, signal: h.process.signalCode }, h.logs()).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('keeps data across a graceful restart (SIGTERM) and reuses the same admin key', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-restart-'));
    dirs.push(dataDir);
    const first = await startHangar({ dataDir });
    const headers = { authorization: `Bearer ${first.adminToken}`, 'content-type': 'application/json' };
    expect((await fetch(`${first.url}/api/v1/devices`, { method: 'POST', headers, body: JSON.stringify({ id: 'survivor' }) })).status).toBe(201);
    await first.stop();
    expect(first.process.exitCode).toBe(0);
    const second = await startHangar({ dataDir, env: { HANGAR_ADMIN_TOKEN: first.adminToken } });
    try {
      const res = await fetch(`${second.url}/api/v1/devices/survivor`, { headers });
      expect(res.status).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it('generates and prints an admin key once when HANGAR_ADMIN_TOKEN is not set', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-gen-'));
    dirs.push(dataDir);
    const child = spawn(process.execPath, [HANGAR_BIN, 'serve', '--data-dir', dataDir, '--http-port', '0', '--host', '127.0.0.1', '--https-port', 'off', '--mqtt-port', 'off', '--mqtts-port', 'off', '--coap-port', 'off', '--coaps-port', 'off'], {
      env: { ...process.env, HANGAR_FROM_SOURCE: '1', HANGAR_ADMIN_TOKEN: '', HANGAR_LOG_LEVEL: 'warn' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const { http } = JSON.parse(line) as { http: number };
    const token = /\n\s+(hk_\S+)\n/.exec(stderr)?.[1];
    expect(token).toBeDefined();
    const res = await fetch(`http://127.0.0.1:${http}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    expect(readFileSync(join(dataDir, 'hangar.db')).includes(Buffer.from(token!))).toBe(false);
  });

  it('names the flag when its port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-busy-'));
    dirs.push(dataDir);
    try {
      const res = await run(['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--http-port', String(port)], { HANGAR_ADMIN_TOKEN: 'x'.repeat(20) });
      expect(res.code).not.toBe(0);
      expect(res.stderr).toContain(`port ${port} is already in use`);
      expect(res.stderr).toContain('--http-port');
    } finally {
      blocker.close();
    }
  });

  it('leaves a device listener off with a warning when another program holds its default port, and fails when the port was chosen', async () => {
    // 8883 is MQTTS's default; hold it as another broker would (unless something already does).
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => {
      blocker.once('error', () => resolve());
      blocker.listen(8883, '127.0.0.1', () => resolve());
    });
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-default-busy-'));
    dirs.push(dataDir);
    try {
      const h = await startHangar({ dataDir, args: ['--mqtts-port', '8883'] }).catch((err: Error) => err);
      expect(h).toBeInstanceOf(Error);
      expect(String(h)).toContain('--mqtts-port');
      // Without the flag the default applies: Hangar starts and says which listener is off.
      const child = spawn(process.execPath, [HANGAR_BIN, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--http-port', '0', '--https-port', 'off', '--mqtt-port', 'off', '--coap-port', 'off', '--coaps-port', 'off'], {
        env: { ...process.env, HANGAR_FROM_SOURCE: '1', HANGAR_LOG_LEVEL: 'error', HANGAR_ADMIN_TOKEN: 'x'.repeat(20), HANGAR_MQTTS_PORT: '' },
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
      const endpoints = JSON.parse(line) as Record<string, unknown>;
      expect(typeof endpoints.http).toBe('number');
      expect(endpoints).not.toHaveProperty('mqtts');
      expect(stderr).toContain('port 8883, the default of --mqtts-port, is in use');
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    } finally {
      blocker.close();
    }
  });

  it.each([
    [['--http-port', 'eighty'], /--http-port must be a port number/],
    [['--dtls-sessions-per-address', '0'], /--dtls-sessions-per-address must be a whole number from 1 to 10000000/],
    [['--mqtt-port', '70000'], /--mqtt-port must be a port number/],
    [['--database-url', 'mysql://x'], /postgres:\/\//],
    [['--tls-cert', 'a.pem'], /--tls-cert and --tls-key go together/],
  ])('refuses bad options %j with one clear line', async (args, message) => {
    const res = await run(['serve', '--data-dir', join(tmpdir(), 'never-made'), ...args]);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(message);
  });

  it('reads flags from HANGAR_* environment variables', async () => {
    const res = await run(['serve', '--data-dir', join(tmpdir(), 'never-made')], { HANGAR_COAP_PORT: 'nope' });
    expect(res.stderr).toMatch(/HANGAR_COAP_PORT must be a port number/);
  });

  it('takes the installation’s per-device telemetry rate limit from --telemetry-rate-limit, shows it in the API, and refuses a bad one', async () => {
    const h = await startHangar({ args: ['--telemetry-rate-limit', '2'] });
    try {
      const admin = { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' };
      const settings = await (await fetch(`${h.url}/api/v1/telemetry/settings`, { headers: admin })).json();
      expect(settings).toMatchObject({ rateLimit: { perSecond: 2, burst: 4 }, rateLimitSource: 'installation' });
      await fetch(`${h.url}/api/v1/devices`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'rate-1' }) });
      const { token } = (await (await fetch(`${h.url}/api/v1/devices/rate-1/credentials`, { method: 'POST', headers: admin, body: JSON.stringify({ type: 'token' }) })).json()) as { token: string };
      const send = async (): Promise<number> =>
        (await fetch(`${h.url}/device/v1/telemetry`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"temp":1}' })).status;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push(await send());
      expect(statuses).toEqual([200, 200, 200, 200, 429]);
    } finally {
      await h.stop();
    }
    const off = await startHangar({ env: { HANGAR_TELEMETRY_RATE_LIMIT: 'off' } });
    try {
      const settings = await (await fetch(`${off.url}/api/v1/telemetry/settings`, { headers: { authorization: `Bearer ${off.adminToken}` } })).json();
      expect(settings).toMatchObject({ rateLimit: null, rateLimitSource: 'installation' });
    } finally {
      await off.stop();
    }
    const flag = await run(['serve', '--telemetry-rate-limit', 'fast']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toBe('error: --telemetry-rate-limit must be a number of messages per second per device above 0 and at most 100000, or "off", not "fast"\n');
    const env = await run(['serve'], { HANGAR_TELEMETRY_RATE_LIMIT: '0' });
    expect(env.code).toBe(1);
    expect(env.stderr).toMatch(/^error: HANGAR_TELEMETRY_RATE_LIMIT must be a number .*, not "0"\n$/);
  });

  it('takes the twin size limit from --twin-max-bytes (413 past it) and refuses a bad one', async () => {
    const h = await startHangar({ args: ['--twin-max-bytes', '2048'] });
    try {
      const admin = { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' };
      await fetch(`${h.url}/api/v1/devices`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'twin-limit' }) });
      const patch = (size: number): Promise<Response> => fetch(`${h.url}/api/v1/devices/twin-limit/twin`, { method: 'PATCH', headers: admin, body: JSON.stringify({ desired: { blob: 'x'.repeat(size) } }) });
      expect((await patch(1500)).status).toBe(200);
      const over = await patch(3000);
      expect(over.status).toBe(413);
      expect(((await over.json()) as { detail: string }).detail).toContain('at most 2048 bytes');
    } finally {
      await h.stop();
    }
    const flag = await run(['serve', '--twin-max-bytes', '10']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toBe('error: --twin-max-bytes must be a number of bytes from 1024 to 1048576, not "10"\n');
  });

  it('prints the package version with --version and -v', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../packages/server/package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const res = await run([flag]);
      expect(res).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it('refuses a too-short HANGAR_ADMIN_TOKEN', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-short-'));
    dirs.push(dataDir);
    const res = await run(['serve', '--data-dir', dataDir, '--http-port', '0'], { HANGAR_ADMIN_TOKEN: 'short' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/HANGAR_ADMIN_TOKEN must be at least 16 characters/);
  });
});
