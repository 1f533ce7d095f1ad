/**
 * The identity commands of the admin CLI as a user runs them — `node packages/server/bin/hangar.js`
 * child processes against one real `hangar serve` — with `openssl` as the independent judge of
 * the certificates, keys and CRL they produce. Every spawn costs about a second, so each test
 * spawns only the commands it is about and sets the rest up over the REST API.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runHangarCli, type CliResult } from './support/hangar-cli.js';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

vi.setConfig({ testTimeout: 120_000 });

let hangar: RunningHangar;
let workDir: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runHangarCli(hangar, args, { env });
}

/** Runs a program in the work directory; resolves with its exit code and output rather than throwing. */
function exec(file: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: workDir, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
    });
  });
}

async function openssl(...args: string[]): Promise<string> {
  const result = await exec('openssl', args);
  if (result.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout + result.stderr;
}

/** A REST call as the admin (or `token`), for set-up and for checks that need no CLI. */
async function api(method: string, path: string, body?: unknown, token: string | null = hangar.adminToken): Promise<{ status: number; body: any }> {
  const response = await fetch(hangar.url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, body: /json/.test(type) ? JSON.parse(text) : text };
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** The value of a `key: value` line of human output. */
function field(output: string, key: string): string {
  const match = output.match(new RegExp(`^${key}: +(\\S+)$`, 'm'));
  if (!match?.[1]) throw new Error(`no "${key}" line in:\n${output}`);
  return match[1];
}

function expectOneErrorLine(result: CliResult, pattern: RegExp): void {
  expect(result.code).toBe(1);
  expect(lines(result.stderr)).toHaveLength(1);
  expect(result.stderr).toMatch(/^error: /);
  expect(result.stderr).toMatch(pattern);
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** The public key of a certificate or a private key, as openssl prints it: the same key prints the same. */
async function publicKeyOf(kind: 'cert' | 'key', path: string): Promise<string> {
  return kind === 'cert' ? openssl('x509', '-in', path, '-noout', '-pubkey') : openssl('pkey', '-in', path, '-pubout');
}

beforeAll(async () => {
  hangar = await startHangar();
  workDir = mkdtempSync(join(tmpdir(), 'hangar-cli-identity-'));
  for (const id of ['id-x509', 'id-csr', 'id-token', 'id-gone', 'id-psk']) {
    expect((await api('POST', '/api/v1/devices', { id })).status).toBe(201);
  }
});

afterAll(async () => {
  await hangar?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('hangar device credentials', () => {
  it('issues a certificate and key that openssl verifies, lists it, and revokes it onto the CRL', async () => {
    const dir = join(workDir, 'x509');
    const issued = await cli(['device', 'credentials', 'id-x509', '--type', 'x509', '--out-dir', dir]);
    expect(issued.stderr).toBe('');
    expect(issued.code).toBe(0);
    const credentialId = field(issued.stdout, 'id');
    const cert = join(dir, 'id-x509.crt.pem');
    const key = join(dir, 'id-x509.key.pem');
    const ca = join(dir, 'device-ca.pem');
    expect(field(issued.stdout, 'private key')).toBe(key);
    // The CA a device passes to --cafile is the one of the TLS listeners, not the one that signed it.
    const serverCa = readFileSync(join(dir, 'server-ca.pem'), 'utf8');
    expect(serverCa).toBe((await api('GET', '/pki/server-ca.pem', undefined, null)).body);
    expect(serverCa).not.toBe(readFileSync(ca, 'utf8'));
    expect(issued.stdout).toMatch(/^server CA: +\S+\/server-ca\.pem {2}\(--cafile: verifies Hangar's TLS listeners\)$/m);
    expect(mode(key)).toBe(0o600);
    expect(await openssl('verify', '-CAfile', ca, cert)).toContain(`${cert}: OK`);
    expect(await openssl('x509', '-in', cert, '-noout', '-subject')).toMatch(/CN ?= ?id-x509/);
    expect(await publicKeyOf('cert', cert)).toBe(await publicKeyOf('key', key));

    const list = await cli(['device', 'credentials', 'list', 'id-x509']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${credentialId}\\s+x509\\s+active\\s+api\\s`, 'm'));

    const revoked = await cli(['device', 'credentials', 'revoke', 'id-x509', credentialId, '--reason', 'keyCompromise']);
    expect(revoked.stdout).toBe(`revoked credential "${credentialId}" of device "id-x509"\n`);
    expect(revoked.code).toBe(0);
    const crl = await api('GET', '/pki/default/crl.pem', undefined, null);
    expect(crl.status).toBe(200);
    writeFileSync(join(workDir, 'crl.pem'), crl.body as string);
    const check = await exec('openssl', ['verify', '-crl_check', '-CAfile', ca, '-CRLfile', join(workDir, 'crl.pem'), cert]);
    expect(check.code).not.toBe(0);
    expect(check.stdout + check.stderr).toContain('certificate revoked');
  });

  it('issues a certificate for an openssl-made CSR and writes no key; a file that is no CSR is refused in one line', async () => {
    await openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-subj', '/CN=id-csr', '-out', 'r.csr');
    const dir = join(workDir, 'csr');
    const issued = await cli(['device', 'credentials', 'id-csr', '--type', 'x509', '--csr', join(workDir, 'r.csr'), '--out-dir', dir, '--json']);
    expect(issued.code).toBe(0);
    const answer = JSON.parse(issued.stdout) as Record<string, unknown>;
    expect(answer).toMatchObject({ type: 'x509', files: { certificate: join(dir, 'id-csr.crt.pem'), deviceCa: join(dir, 'device-ca.pem'), serverCa: join(dir, 'server-ca.pem') } });
    expect(answer).not.toHaveProperty('privateKeyPem');
    expect(existsSync(join(dir, 'id-csr.key.pem'))).toBe(false);
    expect(await openssl('verify', '-CAfile', join(dir, 'device-ca.pem'), join(dir, 'id-csr.crt.pem'))).toContain(': OK');
    expect(await publicKeyOf('cert', join(dir, 'id-csr.crt.pem'))).toBe(await publicKeyOf('key', join(workDir, 'k.pem')));

    writeFileSync(join(workDir, 'notes.txt'), 'this is not a certificate request\n');
    expectOneErrorLine(await cli(['device', 'credentials', 'id-csr', '--type', 'x509', '--csr', join(workDir, 'notes.txt')]), /\(400\)$/m);
  });

  it('writes a token to a file only its owner can read', async () => {
    const dir = join(workDir, 'token');
    const issued = await cli(['device', 'credentials', 'id-token', '--type', 'token', '--out-dir', dir]);
    expect(issued.code).toBe(0);
    const file = join(dir, 'id-token.token');
    expect(field(issued.stdout, 'token file')).toBe(file);
    expect(mode(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^\S{20,}\n$/);
    expect(issued.stdout).not.toContain(readFileSync(file, 'utf8').trim());
  });

  it('issues a DTLS pre-shared key, prints identity and key once, lists the identity and revokes it', async () => {
    const issued = await cli(['device', 'credentials', 'id-psk', '--type', 'psk']);
    expect(issued.code).toBe(0);
    expect(field(issued.stdout, 'type')).toBe('psk');
    expect(field(issued.stdout, 'identity')).toBe('id-psk');
    const key = field(issued.stdout, 'key');
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(issued.stderr).toContain("will not be shown again");

    // An operator's identity and key (a device that ships with them), written to files.
    const dir = join(workDir, 'psk');
    const supplied = await cli(['device', 'credentials', 'id-psk', '--type', 'psk', '--identity', 'id-psk-factory', '--key', '000102030405060708090A0B0C0D0E0F', '--out-dir', dir]);
    expect(supplied.code).toBe(0);
    expect(readFileSync(join(dir, 'id-psk.psk-identity'), 'utf8')).toBe('id-psk-factory');
    expect(readFileSync(join(dir, 'id-psk.psk-key'), 'utf8')).toBe('000102030405060708090a0b0c0d0e0f\n');
    expect(mode(join(dir, 'id-psk.psk-key'))).toBe(0o600);
    expect(supplied.stdout).not.toContain('000102030405060708090a0b0c0d0e0f');
    expect(existsSync(join(dir, 'server-ca.pem'))).toBe(false);

    const list = await cli(['device', 'credentials', 'list', 'id-psk']);
    expect(list.stdout).toMatch(/^\S+\s+psk\s+active\s+api\s+-\s+id-psk\s/m);
    expect(list.stdout).toMatch(/^\S+\s+psk\s+active\s+api\s+-\s+id-psk-factory\s/m);
    expect(list.stdout).not.toContain(key);

    // Bad keys and a taken identity: one line each, naming what is wrong; nothing issued.
    expectOneErrorLine(await cli(['device', 'credentials', 'id-psk', '--type', 'psk', '--identity', 'other', '--key', 'abc']), /key must have an even number of hex digits.*\(400\)$/m);
    expectOneErrorLine(await cli(['device', 'credentials', 'id-psk', '--type', 'psk', '--identity', 'other', '--key', 'ab'.repeat(8)]), /key must be at least 16 bytes.*\(400\)$/m);
    expectOneErrorLine(await cli(['device', 'credentials', 'id-psk', '--type', 'psk', '--identity', 'id-psk-factory']), /PSK identity "id-psk-factory" is already used.*\(409\)$/m);
    expectOneErrorLine(await cli(['device', 'credentials', 'id-psk', '--type', 'token', '--key', key]), /--key only goes with --type psk/);
    expect((await api('GET', '/api/v1/devices/id-psk/credentials')).body.items).toHaveLength(2);

    const credentialId = field(issued.stdout, 'id');
    const revoked = await cli(['device', 'credentials', 'revoke', 'id-psk', credentialId]);
    expect(revoked.code).toBe(0);
    expect((await cli(['device', 'credentials', 'list', 'id-psk'])).stdout).toMatch(new RegExp(`^${credentialId}\\s+psk\\s+revoked\\s`, 'm'));
  });

  it('names an unknown device and refuses a viewer, each in one line', async () => {
    const viewer = await api('POST', '/api/v1/api-keys', { name: 'identity-viewer', role: 'viewer' });
    expect(viewer.status).toBe(201);
    const [unknown, refused] = await Promise.all([
      cli(['device', 'credentials', 'id-nope', '--type', 'token']),
      cli(['device', 'credentials', 'id-token', '--type', 'token'], { HANGAR_TOKEN: viewer.body.token as string }),
    ]);
    expectOneErrorLine(unknown, /^error: device "id-nope" not found \(404\)$/m);
    expectOneErrorLine(refused, /\(403\)$/m);
  });
});

describe('hangar device decommission and recommission', () => {
  it('decommissions with --yes, keeps the id from being created again, and recommissions it', async () => {
    expect((await api('POST', '/api/v1/devices/id-gone/credentials', { type: 'token' })).status).toBe(201);
    const gone = await cli(['device', 'decommission', 'id-gone', '--yes']);
    expect(gone.stdout).toBe('decommissioned device "id-gone" (1 credential revoked, data kept)\n');
    expect(gone.code).toBe(0);

    expectOneErrorLine(await cli(['device', 'create', 'id-gone']), /decommissioned/);

    const back = await cli(['device', 'recommission', 'id-gone']);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/^status: +active$/m);
    expect((await api('GET', '/api/v1/devices/id-gone')).body).toMatchObject({ status: 'active' });
  });
});

describe('hangar enrollment-group', () => {
  it('creates a claim-token group whose printed token enrolls a device', async () => {
    const created = await cli([
      'enrollment-group', 'create', '--name', 'e2e-line', '--mechanism', 'claim_token', '--credential-type', 'token',
      '--tag', 'site=e2e', '--desired', '{"interval":30}', '--limit', '2',
    ]);
    expect(created.code).toBe(0);
    expect(created.stderr).toContain('it will not be shown again');
    const groupId = field(created.stdout, 'id');
    const claimToken = field(created.stdout, 'claim token');

    const provisioned = await api('POST', '/device/v1/provision', { enrollmentGroupId: groupId, deviceId: 'enrolled-1', claimToken }, null);
    expect(provisioned.status).toBe(201);
    expect(provisioned.body).toMatchObject({ deviceId: 'enrolled-1', enrollmentGroupId: groupId, credential: { type: 'token' } });
    expect((await api('GET', '/api/v1/devices/enrolled-1')).body).toMatchObject({ tags: { site: 'e2e' } });
    const wrong = await api('POST', '/device/v1/provision', { enrollmentGroupId: groupId, deviceId: 'enrolled-2', claimToken: 'ct_guess' }, null);
    expect(wrong.status).toBe(401);
  });
});

describe('hangar ca', () => {
  it('registers an openssl-made CA and verifies it with the certificate the printed commands make', async () => {
    await openssl(
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'vendor-ca.key', '-out', 'vendor-ca.pem',
      '-days', '30', '-subj', '/CN=E2E Vendor CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    );
    const registered = await cli(['ca', 'register', join(workDir, 'vendor-ca.pem')]);
    expect(registered.code).toBe(0);
    expect(field(registered.stdout, 'status')).toBe('pending_verification');
    const caId = field(registered.stdout, 'id');
    expect(field(registered.stdout, 'verification code')).toMatch(/\S{8,}/);

    // Run the printed openssl commands as a user would, with their CA key in place of the placeholder.
    const commands = lines(registered.stdout).filter((l) => l.startsWith('  openssl '));
    expect(commands).toHaveLength(2);
    for (const command of commands) {
      const result = await exec('sh', ['-c', command.trim().replace('CA-PRIVATE-KEY.pem', join(workDir, 'vendor-ca.key'))]);
      expect(result.code, result.stderr).toBe(0);
    }
    expect(registered.stdout).toContain(`  hangar ca verify ${caId} verification.crt.pem\n`);

    const verified = await cli(['ca', 'verify', caId, join(workDir, 'verification.crt.pem')]);
    expect(verified.code).toBe(0);
    expect(field(verified.stdout, 'status')).toBe('active');
    expect((await api('GET', `/api/v1/cas/${caId}`)).body).toMatchObject({ kind: 'external', status: 'active', verificationCode: null });
  });
});
