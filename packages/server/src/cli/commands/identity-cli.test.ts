/**
 * The identity commands of the admin CLI (`device credentials|decommission|recommission`,
 * `enrollment-group`, `ca`), run in-process against a small `node:http` server that answers
 * like .tmp/api-identity.md. The real server's end-to-end run lives in e2e/cli-identity.test.ts.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeServer, TOKEN, json, lines, problem, readJson, runCli, type RecordedRequest, type RunResult } from './cli-fixture.js';
import { registerCaCommands } from './ca.js';
import { registerDeviceIdentityCommands } from './credentials.js';
import { registerDeviceCommands } from './device.js';
import { registerEnrollmentGroupCommands } from './enrollment-group.js';

const VIEWER_TOKEN = 'test-viewer-token';
const NOW = '2025-01-02T03:04:05.678Z';
const LATER = '2026-01-02T03:04:05.678Z';

const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBdevice\n-----END CERTIFICATE-----\n';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIGHsecret\n-----END PRIVATE KEY-----\n';
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const SERVER_CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBserverca\n-----END CERTIFICATE-----\n';
const CSR_PEM = '-----BEGIN CERTIFICATE REQUEST-----\nMIIBcsr\n-----END CERTIFICATE REQUEST-----\n';

// ---------------------------------------------------------------------------------------------
// A fake Hangar that answers like the identity contract

type Json = Record<string, unknown>;

class FakeHangar extends FakeServer {
  readonly devices = new Map<string, Json>();
  readonly credentials: Json[] = [];
  readonly groups: Json[] = [];
  readonly cas: Json[] = [];
  readonly requests: RecordedRequest[] = [];
  /** What `GET /pki/server-ca.pem` answers; null: 404, as when the operator gave the TLS certificate. */
  serverCaPem: string | null = SERVER_CA_PEM;
  private counter = 0;

  reset(): void {
    this.devices.clear();
    this.credentials.length = 0;
    this.groups.length = 0;
    this.cas.length = 0;
    this.requests.length = 0;
    this.counter = 0;
    this.serverCaPem = SERVER_CA_PEM;
    this.cas.push(makeCa({ id: 'ca_hangar', kind: 'hangar', status: 'active', subject: 'CN=Hangar device CA (default)' }));
  }

  addDevice(id: string, status = 'active'): void {
    this.devices.set(id, makeDevice(id, status));
  }

  private nextId(prefix: string): string {
    this.counter++;
    return `${prefix}${this.counter}`;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const method = req.method ?? 'GET';
    // Public and outside the API: not recorded, so that requests[0] stays the API call under test.
    if (url.pathname === '/pki/server-ca.pem' && method === 'GET') {
      if (this.serverCaPem === null) return problem(res, 404, 'NOT_FOUND', 'Not found', 'this installation serves an operator-provided TLS certificate');
      return void res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(this.serverCaPem);
    }
    const body = await readJson(req);
    this.requests.push({ method, path, query: url.searchParams, body });

    const auth = req.headers.authorization;
    if (auth !== `Bearer ${TOKEN}` && auth !== `Bearer ${VIEWER_TOKEN}`) {
      return problem(res, 401, 'UNAUTHENTICATED', 'Authentication required', 'invalid or missing API key');
    }
    if (auth === `Bearer ${VIEWER_TOKEN}` && method !== 'GET') {
      return problem(res, 403, 'FORBIDDEN', 'Insufficient role', 'this needs the operator role; the API key has viewer');
    }

    const device = path.match(/^\/devices\/([^/]+)\/(credentials|decommission|recommission)(?:\/([^/]+))?$/);
    if (device) {
      const id = decodeURIComponent(device[1] ?? '');
      const found = this.devices.get(id);
      if (device[2] === 'credentials' && device[3] !== undefined) {
        const cred = this.credentials.find((c) => c['id'] === device[3] && c['deviceId'] === id);
        if (!cred) return problem(res, 404, 'NOT_FOUND', 'Not found', `device "${id}" has no credential "${device[3]}"`);
        if (cred['status'] === 'revoked') return problem(res, 409, 'CONFLICT', 'Conflict', `credential "${device[3]}" is already revoked`);
        Object.assign(cred, { status: 'revoked', revokedAt: NOW, revocationReason: url.searchParams.get('reason') ?? 'unspecified' });
        return void res.writeHead(204).end();
      }
      if (!found) return problem(res, 404, 'DEVICE_NOT_FOUND', 'Device not found', `device "${id}" does not exist`);
      if (device[2] === 'credentials' && method === 'GET') {
        return json(res, 200, { items: this.credentials.filter((c) => c['deviceId'] === id), nextCursor: null });
      }
      if (device[2] === 'credentials' && method === 'POST') return this.issue(res, found, body as Json);
      if (device[2] === 'decommission') {
        if (found['status'] === 'decommissioned') {
          return problem(res, 409, 'DEVICE_DECOMMISSIONED', 'Device is decommissioned', `device "${id}" is already decommissioned`);
        }
        found['status'] = 'decommissioned';
        let revoked = 0;
        for (const c of this.credentials) {
          if (c['deviceId'] === id && c['status'] === 'active') {
            Object.assign(c, { status: 'revoked', revokedAt: NOW, revocationReason: 'cessationOfOperation' });
            revoked++;
          }
        }
        return json(res, 200, { ...found, revokedCredentials: revoked });
      }
      if (found['status'] !== 'decommissioned') return problem(res, 409, 'CONFLICT', 'Conflict', `device "${id}" is not decommissioned`);
      found['status'] = 'active';
      return json(res, 200, found);
    }

    if (path === '/enrollment-groups' && method === 'GET') return json(res, 200, { items: this.groups, nextCursor: null });
    if (path === '/enrollment-groups' && method === 'POST') {
      const input = body as Json;
      if (input['mechanism'] === 'ca' && input['caId'] === undefined) {
        return problem(res, 400, 'VALIDATION_FAILED', 'Invalid request', 'a "ca" enrollment group needs caId');
      }
      const group = makeGroup({ ...input, id: this.nextId('eg_') });
      this.groups.push(group);
      const secret =
        input['mechanism'] === 'claim_token' ? { claimToken: 'ct_claim_secret' } : input['mechanism'] === 'symmetric_key' ? { groupKey: 'Z2tleQ==' } : {};
      return json(res, 201, { ...group, ...secret });
    }
    const groupMatch = path.match(/^\/enrollment-groups\/([^/]+)$/);
    if (groupMatch) {
      const index = this.groups.findIndex((g) => g['id'] === groupMatch[1]);
      const group = this.groups[index];
      if (!group) return problem(res, 404, 'NOT_FOUND', 'Not found', `enrollment group "${groupMatch[1]}" does not exist`);
      if (method === 'GET') return json(res, 200, group);
      if (method === 'DELETE') {
        this.groups.splice(index, 1);
        return void res.writeHead(204).end();
      }
      Object.assign(group, body as Json);
      return json(res, 200, group);
    }

    if (path === '/cas' && method === 'GET') return json(res, 200, { items: this.cas, nextCursor: null });
    if (path === '/cas' && method === 'POST') {
      const pem = (body as Json)['certificatePem'] as string;
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
        return problem(res, 400, 'VALIDATION_FAILED', 'Invalid request', 'the CA certificate is not PEM');
      }
      const ca = makeCa({ id: this.nextId('ca_'), verificationCode: 'c0de5eed' });
      this.cas.push(ca);
      return json(res, 201, ca);
    }
    const caMatch = path.match(/^\/cas\/([^/]+)(\/verify)?$/);
    if (caMatch) {
      const ca = this.cas.find((c) => c['id'] === caMatch[1]);
      if (!ca || (method !== 'GET' && ca['kind'] !== 'external')) {
        return problem(res, 404, 'NOT_FOUND', 'Not found', `external CA "${caMatch[1]}" does not exist`);
      }
      if (method === 'GET') return json(res, 200, ca);
      if (caMatch[2]) {
        if (!String((body as Json)['verificationCertificatePem']).includes('c0de5eed')) {
          return problem(res, 400, 'VALIDATION_FAILED', 'Invalid request', 'the verification certificate’s CN must be the verification code of this CA');
        }
        Object.assign(ca, { status: 'active', verificationCode: null });
        return json(res, 200, ca);
      }
      ca['status'] = (body as Json)['enabled'] ? 'active' : 'disabled';
      return json(res, 200, ca);
    }
    return problem(res, 404, 'NOT_FOUND', 'Not found', `no route ${method} ${path}`);
  }

  private issue(res: ServerResponse, device: Json, input: Json): void {
    const deviceId = device['id'] as string;
    if (device['status'] === 'decommissioned') {
      return problem(res, 409, 'DEVICE_DECOMMISSIONED', 'Device is decommissioned', `device "${deviceId}" is decommissioned; recommission it first`);
    }
    const csr = input['csr'];
    if (typeof csr === 'string' && !csr.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
      return problem(res, 400, 'VALIDATION_FAILED', 'Invalid request', 'certificate signing request is not PEM: expected a "-----BEGIN CERTIFICATE REQUEST-----" block');
    }
    const id = this.nextId('cred_');
    const x509 = input['type'] === 'x509';
    this.credentials.push({
      id, deviceId, type: input['type'], status: 'active', source: 'api', serial: x509 ? '0a1b2c' : null,
      fingerprintSha256: null, keyAlgorithm: x509 ? 'P-256' : null, certificatePem: x509 ? CERT_PEM : null,
      createdAt: NOW, expiresAt: LATER, revokedAt: null, revocationReason: null,
    });
    if (!x509) return json(res, 201, { id, type: 'token', expiresAt: LATER, token: 'dt_secret_token' });
    return json(res, 201, {
      id, type: 'x509', expiresAt: LATER, serial: '0a1b2c', certificatePem: CERT_PEM,
      ...(csr === undefined ? { privateKeyPem: KEY_PEM } : {}), caPem: CA_PEM,
    });
  }
}

function makeDevice(id: string, status: string): Json {
  return {
    id, tenant: 'default', type: 'generic', status, tags: {}, attributes: {}, groups: [], online: false,
    lastSeen: null, firmwareVersion: null, createdAt: NOW, updatedAt: NOW,
  };
}

function makeGroup(input: Json): Json {
  return {
    id: input['id'], name: input['name'], mechanism: input['mechanism'], enabled: input['enabled'] ?? true,
    caId: input['caId'] ?? null, credentialType: input['credentialType'] ?? 'x509', deviceType: input['deviceType'] ?? 'generic',
    tags: input['tags'] ?? {}, groups: input['groups'] ?? [], initialDesired: input['initialDesired'] ?? {},
    deviceLimit: input['deviceLimit'] ?? null, enrolledCount: 0, expiresAt: input['expiresAt'] ?? null, createdAt: NOW, updatedAt: NOW,
  };
}

function makeCa(input: Json): Json {
  return {
    kind: 'external', status: 'pending_verification', subject: 'CN=Vendor CA', fingerprintSha256: 'ab'.repeat(32),
    certificatePem: CA_PEM, verificationCode: null, notAfter: LATER, createdAt: NOW, ...input,
  };
}

// ---------------------------------------------------------------------------------------------
// Running the CLI in-process

let hangar: FakeHangar;
let workDir: string;

function run(args: string[], options: { stdin?: string; tty?: boolean; token?: string } = {}): Promise<RunResult> {
  return runCli(
    // Wired as main.ts wires them.
    (program, io) => {
      registerDeviceIdentityCommands(registerDeviceCommands(program, io), io);
      registerEnrollmentGroupCommands(program, io);
      registerCaCommands(program, io);
    },
    args,
    {
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      stdinTty: options.tty ?? false,
      stderrTty: options.tty ?? false,
      connection: ['--url', hangar.url, '--token', options.token ?? TOKEN],
    },
  );
}

/** The stdout of a command that must succeed; its stderr is the failure message otherwise. */
async function ok(args: string[]): Promise<string> {
  const result = await run(args);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

beforeAll(async () => {
  hangar = new FakeHangar();
  await hangar.start();
  workDir = await mkdtemp(join(tmpdir(), 'hangar-identity-cli-'));
});

afterAll(async () => {
  await hangar.stop();
  await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => {
  hangar.reset();
  hangar.addDevice('cam-1');
});

let dirCount = 0;
function freshDir(): string {
  dirCount++;
  return join(workDir, `out-${dirCount}`);
}

// ---------------------------------------------------------------------------------------------

describe('device credentials (issue)', () => {
  it('writes the certificate, a 0600 private key, the device CA and the server CA (for --cafile) into --out-dir, named so, and says which is which', async () => {
    const dir = freshDir();
    const { stdout, stderr, exitCode } = await run(['device', 'credentials', 'cam-1', '--type', 'x509', '--out-dir', dir]);
    expect(exitCode).toBe(0);
    expect(stderr).toBe(''); // nothing to warn about: the secret is in a file
    expect(hangar.requests[0]).toMatchObject({ method: 'POST', path: '/devices/cam-1/credentials', body: { type: 'x509' } });
    expect((await readdir(dir)).sort()).toEqual(['cam-1.crt.pem', 'cam-1.key.pem', 'device-ca.pem', 'server-ca.pem']);
    expect(await readFile(join(dir, 'cam-1.crt.pem'), 'utf8')).toBe(CERT_PEM);
    expect(await readFile(join(dir, 'cam-1.key.pem'), 'utf8')).toBe(KEY_PEM);
    expect(await readFile(join(dir, 'device-ca.pem'), 'utf8')).toBe(CA_PEM);
    expect(await readFile(join(dir, 'server-ca.pem'), 'utf8')).toBe(SERVER_CA_PEM);
    expect(await mode(join(dir, 'cam-1.key.pem'))).toBe(0o600);
    expect(await mode(join(dir, 'cam-1.crt.pem'))).toBe(0o644);
    expect(await mode(dir)).toBe(0o700); // made by the command
    expect(stdout).toMatch(/^id: +cred_1$/m);
    expect(stdout).toMatch(/^serial: +0a1b2c$/m);
    expect(stdout).toMatch(/^expires: +2026-01-02T03:04:05Z$/m);
    expect(stdout).toContain(`private key:  ${join(dir, 'cam-1.key.pem')}\n`);
    expect(stdout).toContain(`server CA:    ${join(dir, 'server-ca.pem')}  (--cafile: verifies Hangar's TLS listeners)\n`);
    expect(stdout).toContain(`device CA:    ${join(dir, 'device-ca.pem')}  (signed the device certificate)\n`);
    expect(stdout).not.toContain('PRIVATE KEY');
  });

  it('replaces an existing, readable key file with a 0600 one', async () => {
    const dir = freshDir();
    await mkdir(dir);
    await writeFile(join(dir, 'cam-1.key.pem'), 'old key', { mode: 0o644 });
    await ok(['device', 'credentials', 'cam-1', '--type', 'x509', '--out-dir', dir]);
    expect(await readFile(join(dir, 'cam-1.key.pem'), 'utf8')).toBe(KEY_PEM);
    expect(await mode(join(dir, 'cam-1.key.pem'))).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['cam-1.crt.pem', 'cam-1.key.pem', 'device-ca.pem', 'server-ca.pem']); // no temporary files left
  });

  it('sends a CSR and its validity, and writes no key file for it', async () => {
    const dir = freshDir();
    const csr = join(workDir, 'cam-1.csr');
    await writeFile(csr, CSR_PEM);
    await ok(['device', 'credentials', 'cam-1', '--type', 'x509', '--csr', csr, '--validity-days', '30', '--out-dir', dir]);
    expect(hangar.requests[0]?.body).toEqual({ type: 'x509', csr: CSR_PEM, validityDays: 30 });
    expect((await readdir(dir)).sort()).toEqual(['cam-1.crt.pem', 'device-ca.pem', 'server-ca.pem']);
  });

  it('writes a token to <id>.token with mode 0600, and the server CA beside it', async () => {
    const dir = freshDir();
    const stdout = await ok(['device', 'credentials', 'cam-1', '--type', 'token', '--out-dir', dir]);
    expect((await readdir(dir)).sort()).toEqual(['cam-1.token', 'server-ca.pem']);
    expect(await readFile(join(dir, 'cam-1.token'), 'utf8')).toBe('dt_secret_token\n');
    expect(await mode(join(dir, 'cam-1.token'))).toBe(0o600);
    expect(stdout).toContain(`token file:  ${join(dir, 'cam-1.token')}\n`);
    expect(stdout).not.toContain('dt_secret_token');
  });

  it('writes no server CA, and says so, when the operator gave Hangar its TLS certificate', async () => {
    hangar.serverCaPem = null;
    const dir = freshDir();
    const stdout = await ok(['device', 'credentials', 'cam-1', '--type', 'x509', '--out-dir', dir]);
    expect((await readdir(dir)).sort()).toEqual(['cam-1.crt.pem', 'cam-1.key.pem', 'device-ca.pem']);
    expect(stdout).toContain('server-ca.pem not written: this Hangar serves a TLS certificate of its operator; ask them for its CA (for --cafile)\n');
  });

  it('issues nothing when the server CA cannot be fetched', async () => {
    hangar.serverCaPem = 'not a certificate';
    const dir = freshDir();
    const { stderr, exitCode } = await run(['device', 'credentials', 'cam-1', '--type', 'x509', '--out-dir', dir]);
    expect(exitCode).toBe(1);
    expect(lines(stderr)).toEqual([`error: cannot fetch the server CA from ${hangar.url}/pki/server-ca.pem (200: not a PEM certificate); no credential was issued`]);
    expect(hangar.requests).toEqual([]);
  });

  it('prints the certificate, key and CA once, with a warning on stderr, without --out-dir', async () => {
    const { stdout, stderr, exitCode } = await run(['device', 'credentials', 'cam-1', '--type', 'x509']);
    expect(exitCode).toBe(0);
    expect(stdout).toContain(`# device certificate\n${CERT_PEM}\n# private key\n${KEY_PEM}\n# device CA certificate (signed the certificate above; not for --cafile: that is GET /pki/server-ca.pem)\n${CA_PEM}`);
    expect(lines(stderr)).toEqual(['Store the private key now: it will not be shown again (--out-dir DIR writes it to a file).']);
  });

  it('prints a token once with a warning', async () => {
    const { stdout, stderr } = await run(['device', 'credentials', 'cam-1', '--type', 'token']);
    expect(stdout).toMatch(/^token: +dt_secret_token$/m);
    expect(lines(stderr)).toEqual(['Store this token now: it will not be shown again.']);
  });

  it('prints the API answer with --json, without the secret when it went to files', async () => {
    const answer = JSON.parse(await ok(['device', 'credentials', 'cam-1', '--type', 'x509', '--json'])) as Json;
    expect(answer).toEqual({ id: 'cred_1', type: 'x509', expiresAt: LATER, serial: '0a1b2c', certificatePem: CERT_PEM, privateKeyPem: KEY_PEM, caPem: CA_PEM });

    const dir = freshDir();
    const filed = JSON.parse(await ok(['device', 'credentials', 'cam-1', '--type', 'token', '--out-dir', dir, '--json'])) as Json;
    expect(filed).toEqual({ id: 'cred_2', type: 'token', expiresAt: LATER, files: { token: join(dir, 'cam-1.token'), serverCa: join(dir, 'server-ca.pem') } });
  });

  it('spells issuing out with "credentials issue", for a device named like a subcommand', async () => {
    hangar.addDevice('list');
    await ok(['device', 'credentials', 'issue', 'list', '--type', 'token']);
    expect(hangar.requests[0]).toMatchObject({ method: 'POST', path: '/devices/list/credentials' });
  });

  it('refuses bad input before calling the API', async () => {
    const cases: Array<[string[], string]> = [
      [['device', 'credentials', 'cam-1'], "error: required option '--type <type>' not specified (x509, token or psk)\n"],
      [['device', 'credentials', 'cam-1', '--type', 'token', '--csr', 'x.csr'], 'error: --csr only goes with --type x509\n'],
      [['device', 'credentials', 'cam-1', '--type', 'x509', '--csr', join(workDir, 'absent.csr')], `error: cannot read "${join(workDir, 'absent.csr')}" (ENOENT)\n`],
      [['device', 'credentials', 'cam-1', '--type', 'x509', '--csr', workDir], `error: cannot read "${workDir}": it is a directory\n`],
      [['device', 'credentials', 'cam-1', '--type', 'rsa'], "error: option '--type <type>' argument 'rsa' is invalid. Allowed choices are x509, token, psk.\n"],
      [['device', 'credentials', 'cam-1', '--type', 'x509', '--validity-days', '0'], "error: option '--validity-days <n>' argument '0' is invalid. expected a whole number of days from 1 to 3650\n"],
    ];
    for (const [args, line] of cases) {
      const { stderr, exitCode } = await run(args);
      expect(stderr).toBe(line);
      expect(exitCode).toBe(1);
    }
    expect(hangar.requests).toHaveLength(0);
  });

  it('refuses an --out-dir it cannot write to before a credential is issued', async () => {
    const file = join(workDir, 'a-file');
    await writeFile(file, '');
    const { stderr, exitCode } = await run(['device', 'credentials', 'cam-1', '--type', 'x509', '--out-dir', file]);
    expect(exitCode).toBe(1);
    expect(stderr).toMatch(/^error: cannot write to --out-dir ".*a-file" \((EEXIST|ENOTDIR)\)\n$/);
    expect(hangar.requests).toHaveLength(0);
  });

  it('lets the server say why a file is no CSR, in one line', async () => {
    const notPem = join(workDir, 'not-a.csr');
    await writeFile(notPem, 'hello');
    const { stderr, exitCode } = await run(['device', 'credentials', 'cam-1', '--type', 'x509', '--csr', notPem]);
    expect(exitCode).toBe(1);
    expect(stderr).toBe('error: certificate signing request is not PEM: expected a "-----BEGIN CERTIFICATE REQUEST-----" block (400)\n');
  });

  it('names an unknown device, and tells a role that is too low', async () => {
    const unknown = await run(['device', 'credentials', 'cam-9', '--type', 'token']);
    expect(unknown.stderr).toBe('error: device "cam-9" not found (404)\n');
    expect(unknown.exitCode).toBe(1);
    const viewer = await run(['device', 'credentials', 'cam-1', '--type', 'token'], { token: VIEWER_TOKEN });
    expect(viewer.stderr).toBe('error: this needs the operator role; the API key has viewer (403)\n');
    expect(viewer.exitCode).toBe(1);
  });
});

describe('device credentials list and revoke', () => {
  it('lists credentials as a table and as JSON, options after the subcommand going to it', async () => {
    await ok(['device', 'credentials', 'cam-1', '--type', 'x509']);
    await ok(['device', 'credentials', 'cam-1', '--type', 'token']);
    const table = lines(await ok(['device', 'credentials', 'list', 'cam-1']));
    expect(table[0]).toMatch(/^ID\s+TYPE\s+STATUS\s+SOURCE\s+SERIAL\s+IDENTITY\s+KEY\s+CREATED\s+EXPIRES\s+REVOKED$/);
    expect(table[1]).toMatch(/^cred_1\s+x509\s+active\s+api\s+0a1b2c\s+-\s+P-256\s+2025-01-02T03:04:05Z\s+2026-01-02T03:04:05Z\s+-$/);
    expect(table[2]).toMatch(/^cred_2\s+token\s+active\s+api\s+-\s+-\s+-\s/);
    const doc = JSON.parse(await ok(['device', 'credentials', 'list', 'cam-1', '--json'])) as { items: Json[]; nextCursor: null };
    expect(doc.items.map((c) => c['id'])).toEqual(['cred_1', 'cred_2']);
    expect(hangar.requests.at(-1)).toMatchObject({ method: 'GET', path: '/devices/cam-1/credentials' });
  });

  it('says when a device has no credentials, and names an unknown device', async () => {
    const none = await run(['device', 'credentials', 'list', 'cam-1']);
    expect(none).toEqual({ stdout: '', stderr: 'device "cam-1" has no credentials\n', exitCode: 0 });
    const unknown = await run(['device', 'credentials', 'list', 'cam-9']);
    expect(unknown.stderr).toBe('error: device "cam-9" not found (404)\n');
  });

  it('revokes with a reason, and refuses a second revocation and an unknown credential', async () => {
    await ok(['device', 'credentials', 'cam-1', '--type', 'x509']);
    expect(await ok(['device', 'credentials', 'revoke', 'cam-1', 'cred_1', '--reason', 'keyCompromise'])).toBe('revoked credential "cred_1" of device "cam-1"\n');
    expect(hangar.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/devices/cam-1/credentials/cred_1' });
    expect(hangar.requests.at(-1)?.query.get('reason')).toBe('keyCompromise');
    expect(hangar.credentials[0]).toMatchObject({ status: 'revoked', revocationReason: 'keyCompromise' });

    const again = await run(['device', 'credentials', 'revoke', 'cam-1', 'cred_1']);
    expect(again).toMatchObject({ stderr: 'error: credential "cred_1" is already revoked (409)\n', exitCode: 1 });
    const unknown = await run(['device', 'credentials', 'revoke', 'cam-1', 'cred_9']);
    expect(unknown).toMatchObject({ stderr: 'error: credential "cred_9" not found (404)\n', exitCode: 1 });
    const reason = await run(['device', 'credentials', 'revoke', 'cam-1', 'cred_1', '--reason', 'lost']);
    expect(reason.stderr).toMatch(/^error: option '--reason <reason>' argument 'lost' is invalid\. Allowed choices are keyCompromise, superseded, cessationOfOperation, unspecified\.\n$/);
  });

  it('prints a JSON acknowledgement with --json', async () => {
    await ok(['device', 'credentials', 'cam-1', '--type', 'token']);
    expect(JSON.parse(await ok(['device', 'credentials', 'revoke', 'cam-1', 'cred_1', '--json']))).toEqual({ deviceId: 'cam-1', id: 'cred_1', revoked: true });
  });
});

describe('device decommission and recommission', () => {
  it('refuses without --yes when stdin is not a terminal', async () => {
    const { stdout, stderr, exitCode } = await run(['device', 'decommission', 'cam-1']);
    expect({ stdout, stderr, exitCode }).toEqual({
      stdout: '',
      stderr: 'error: refusing to decommission device "cam-1" without confirmation: pass --yes\n',
      exitCode: 1,
    });
    expect(hangar.requests).toHaveLength(0);
  });

  it('asks on a terminal and decommissions only on yes', async () => {
    const no = await run(['device', 'decommission', 'cam-1', '--purge-data'], { stdin: 'n\n', tty: true });
    expect(no.stderr).toBe(
      'Decommission device "cam-1" (revokes its credentials and purges its data)? [y/N] error: aborted: device "cam-1" was not decommissioned\n',
    );
    expect(no.exitCode).toBe(1);
    expect(hangar.requests).toHaveLength(0);
    const yes = await run(['device', 'decommission', 'cam-1'], { stdin: 'y\n', tty: true });
    expect(yes.exitCode).toBe(0);
    expect(yes.stdout).toBe('decommissioned device "cam-1" (0 credentials revoked, data kept)\n');
    expect(hangar.requests[0]).toMatchObject({ method: 'POST', path: '/devices/cam-1/decommission', body: { purgeData: false } });
  });

  it('purges with --purge-data --yes, revoking the credentials, and prints the API answer with --json', async () => {
    await ok(['device', 'credentials', 'cam-1', '--type', 'token']);
    const doc = JSON.parse(await ok(['device', 'decommission', 'cam-1', '--purge-data', '--yes', '--json'])) as Json;
    expect(doc).toMatchObject({ id: 'cam-1', status: 'decommissioned', revokedCredentials: 1 });
    expect(hangar.requests.at(-1)?.body).toEqual({ purgeData: true });
  });

  it('says when a device is decommissioned already, and recommissions it', async () => {
    await ok(['device', 'decommission', 'cam-1', '--yes']);
    const again = await run(['device', 'decommission', 'cam-1', '--yes']);
    expect(again).toMatchObject({ stderr: 'error: device "cam-1" is already decommissioned (409)\n', exitCode: 1 });
    const issue = await run(['device', 'credentials', 'cam-1', '--type', 'token']);
    expect(issue.stderr).toBe('error: device "cam-1" is decommissioned; recommission it first (409)\n');

    const back = await ok(['device', 'recommission', 'cam-1']);
    expect(back).toMatch(/^status: +active$/m);
    const twice = await run(['device', 'recommission', 'cam-1']);
    expect(twice.stderr).toBe('error: device "cam-1" is not decommissioned (409)\n');
    const unknown = await run(['device', 'recommission', 'cam-9']);
    expect(unknown.stderr).toBe('error: device "cam-9" not found (404)\n');
  });
});

describe('enrollment-group', () => {
  it('creates a claim-token group from every option and prints the token once', async () => {
    const desired = join(workDir, 'desired.json');
    await writeFile(desired, '{"interval": 60, "mode": "eco"}');
    const { stdout, stderr, exitCode } = await run([
      'enrollment-group', 'create', '--name', 'line-a', '--mechanism', 'claim_token', '--credential-type', 'token',
      '--device-type', 'meter', '--tag', 'site=berlin', '--tag', 'line=a', '--group', 'meters', '--group', 'berlin',
      '--desired', `@${desired}`, '--limit', '50', '--expires', '2030-01-31T00:00:00+01:00',
    ]);
    expect(exitCode).toBe(0);
    expect(hangar.requests[0]?.body).toEqual({
      name: 'line-a', mechanism: 'claim_token', credentialType: 'token', deviceType: 'meter',
      tags: { site: 'berlin', line: 'a' }, groups: ['meters', 'berlin'], initialDesired: { interval: 60, mode: 'eco' },
      deviceLimit: 50, expiresAt: '2030-01-30T23:00:00.000Z',
    });
    expect(stdout).toMatch(/^claim token: +ct_claim_secret$/m);
    expect(stdout).toMatch(/^tags: +line=a,site=berlin$/m);
    expect(stdout).toMatch(/^device limit: +50$/m);
    expect(lines(stderr)).toEqual(['Store this claim token now: it will not be shown again.']);
  });

  it('prints a group key for symmetric_key and nothing secret for ca', async () => {
    const key = await run(['enrollment-group', 'create', '--name', 'k', '--mechanism', 'symmetric_key', '--desired', '{"a":1}']);
    expect(key.stdout).toMatch(/^group key: +Z2tleQ==$/m);
    expect(key.stderr).toContain('Store this group key now');
    expect(hangar.requests[0]?.body).toMatchObject({ initialDesired: { a: 1 } });
    const ca = await run(['enrollment-group', 'create', '--name', 'c', '--mechanism', 'ca', '--ca', 'ca_hangar', '--disabled']);
    expect(ca.stderr).toBe('');
    expect(ca.stdout).toMatch(/^CA: +ca_hangar$/m);
    expect(hangar.requests[1]?.body).toEqual({ name: 'c', mechanism: 'ca', caId: 'ca_hangar', enabled: false });
  });

  it('refuses bad options before calling the API, and passes the server’s refusals on in one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['enrollment-group', 'create', '--mechanism', 'claim_token'], /^error: required option '--name <name>' not specified\n$/],
      [['enrollment-group', 'create', '--name', 'x', '--mechanism', 'password'], /^error: option '--mechanism <mechanism>' argument 'password' is invalid/],
      [['enrollment-group', 'create', '--name', 'x', '--mechanism', 'claim_token', '--desired', '{nope'], /^error: --desired is not valid JSON \(.+\)\n$/],
      [['enrollment-group', 'create', '--name', 'x', '--mechanism', 'claim_token', '--desired', '[1]'], /^error: --desired must hold a JSON object/],
      [['enrollment-group', 'create', '--name', 'x', '--mechanism', 'claim_token', '--desired', '@/no/such/file.json'], /^error: cannot read "\/no\/such\/file\.json" \(ENOENT\)\n$/],
      [['enrollment-group', 'create', '--name', 'x', '--mechanism', 'claim_token', '--expires', 'soon'], /^error: option '--expires <iso>' argument 'soon' is invalid\. expected an ISO 8601 time/],
      [['enrollment-group', 'create', '--name', 'x', '--mechanism', 'claim_token', '--limit', '0'], /^error: option '--limit <n>' argument '0' is invalid/],
      [['enrollment-group', 'update', 'eg_1'], /^error: nothing to update: /],
      [['enrollment-group', 'update', 'eg_1', '--enable', '--disable'], /^error: option '--enable' cannot be used with option '--disable'\n$/],
      [['enrollment-group', 'update', 'eg_1', '--expires', '2030-01-01', '--no-expiry'], /^error: option '--no-expiry' cannot be used with option '--expires <iso>'\n$/],
    ];
    for (const [args, pattern] of cases) {
      const { stderr, exitCode } = await run(args);
      expect(stderr).toMatch(pattern);
      expect(lines(stderr)).toHaveLength(1);
      expect(exitCode).toBe(1);
    }
    expect(hangar.requests).toHaveLength(0);
    const server = await run(['enrollment-group', 'create', '--name', 'x', '--mechanism', 'ca']);
    expect(server).toMatchObject({ stderr: 'error: a "ca" enrollment group needs caId (400)\n', exitCode: 1 });
  });

  it('lists, shows, updates and deletes groups', async () => {
    await ok(['enrollment-group', 'create', '--name', 'line-a', '--mechanism', 'claim_token', '--limit', '5']);
    await ok(['enrollment-group', 'create', '--name', 'line-b', '--mechanism', 'symmetric_key']);
    const table = lines(await ok(['enrollment-group', 'list']));
    expect(table[0]).toMatch(/^ID\s+NAME\s+MECHANISM\s+CREDENTIAL\s+ENABLED\s+ENROLLED\s+EXPIRES$/);
    expect(table[1]).toMatch(/^eg_1\s+line-a\s+claim_token\s+x509\s+yes\s+0\/5\s+-$/);
    expect(table[2]).toMatch(/^eg_2\s+line-b\s+symmetric_key\s+x509\s+yes\s+0\s+-$/);
    const shown = await ok(['enrollment-group', 'show', 'eg_1']);
    expect(shown).toMatch(/^name: +line-a$/m);
    expect(shown).not.toContain('claim token');

    const updated = await ok(['enrollment-group', 'update', 'eg_1', '--disable', '--no-limit', '--no-expiry', '--name', 'line-A']);
    expect(hangar.requests.at(-1)).toMatchObject({ method: 'PATCH', path: '/enrollment-groups/eg_1' });
    expect(hangar.requests.at(-1)?.body).toEqual({ name: 'line-A', enabled: false, deviceLimit: null, expiresAt: null });
    expect(updated).toMatch(/^enabled: +no$/m);
    await ok(['enrollment-group', 'update', 'eg_1', '--enable', '--limit', '9', '--tag', 'a=b', '--group', 'g', '--desired', '{}']);
    expect(hangar.requests.at(-1)?.body).toEqual({ enabled: true, deviceLimit: 9, tags: { a: 'b' }, groups: ['g'], initialDesired: {} });

    const refused = await run(['enrollment-group', 'delete', 'eg_1']);
    expect(refused).toMatchObject({ stderr: 'error: refusing to delete enrollment group "eg_1" without confirmation: pass --yes\n', exitCode: 1 });
    expect(await ok(['enrollment-group', 'delete', 'eg_1', '--yes'])).toBe('deleted enrollment group "eg_1"\n');
    const gone = await run(['enrollment-group', 'show', 'eg_1']);
    expect(gone).toMatchObject({ stderr: 'error: enrollment group "eg_1" not found (404)\n', exitCode: 1 });
    const list = JSON.parse(await ok(['enrollment-group', 'list', '--json'])) as { items: Json[] };
    expect(list.items.map((g) => g['id'])).toEqual(['eg_2']);
  });
});

describe('ca', () => {
  it('lists CAs', async () => {
    const table = lines(await ok(['ca', 'list']));
    expect(table[0]).toMatch(/^ID\s+KIND\s+STATUS\s+SUBJECT\s+NOT AFTER\s+FINGERPRINT \(SHA-256\)$/);
    expect(table[1]).toMatch(/^ca_hangar\s+hangar\s+active\s+CN=Hangar device CA \(default\)\s+2026-01-02T03:04:05Z\s+abababababababab…$/);
  });

  it('registers a CA and prints its verification code with the commands that prove possession', async () => {
    const file = join(workDir, 'vendor ca.pem');
    await writeFile(file, CA_PEM);
    const stdout = await ok(['ca', 'register', file]);
    expect(hangar.requests[0]).toMatchObject({ method: 'POST', path: '/cas', body: { certificatePem: CA_PEM } });
    expect(stdout).toMatch(/^status: +pending_verification$/m);
    expect(stdout).toMatch(/^verification code: +c0de5eed$/m);
    expect(stdout).toContain('-subj /CN=c0de5eed ');
    expect(stdout).toContain(`-CA '${file}' -CAkey CA-PRIVATE-KEY.pem `);
    expect(stdout).toContain('\n  hangar ca verify ca_1 verification.crt.pem\n');
    const json = JSON.parse(await ok(['ca', 'register', file, '--json'])) as Json;
    expect(json).toMatchObject({ id: 'ca_2', verificationCode: 'c0de5eed' });
  });

  it('verifies, disables and enables an external CA', async () => {
    const file = join(workDir, 'ca.pem');
    await writeFile(file, CA_PEM);
    await ok(['ca', 'register', file]);
    const proof = join(workDir, 'verification.crt.pem');
    await writeFile(proof, '-----BEGIN CERTIFICATE-----\nc0de5eed\n-----END CERTIFICATE-----\n');
    expect(await ok(['ca', 'verify', 'ca_1', proof])).toMatch(/^status: +active$/m);
    expect(hangar.requests.at(-1)).toMatchObject({ method: 'POST', path: '/cas/ca_1/verify' });
    expect(await ok(['ca', 'disable', 'ca_1'])).toMatch(/^status: +disabled$/m);
    expect(hangar.requests.at(-1)).toMatchObject({ method: 'PATCH', path: '/cas/ca_1', body: { enabled: false } });
    expect(await ok(['ca', 'enable', 'ca_1'])).toMatch(/^status: +active$/m);
    expect(hangar.requests.at(-1)?.body).toEqual({ enabled: true });
  });

  it('tells a wrong verification certificate, unknown ids and unreadable files in one line', async () => {
    const file = join(workDir, 'ca.pem');
    await writeFile(file, CA_PEM);
    await ok(['ca', 'register', file]);
    const wrong = await run(['ca', 'verify', 'ca_1', file]);
    expect(wrong).toMatchObject({ stderr: 'error: the verification certificate’s CN must be the verification code of this CA (400)\n', exitCode: 1 });
    expect((await run(['ca', 'show', 'ca_9'])).stderr).toBe('error: CA "ca_9" not found (404)\n');
    expect((await run(['ca', 'enable', 'ca_hangar'])).stderr).toBe('error: external CA "ca_hangar" not found (404)\n');
    const missing = await run(['ca', 'register', join(workDir, 'none.pem')]);
    expect(missing).toMatchObject({ stderr: `error: cannot read "${join(workDir, 'none.pem')}" (ENOENT)\n`, exitCode: 1 });
    const notPem = join(workDir, 'not.pem');
    await writeFile(notPem, 'hello');
    expect((await run(['ca', 'register', notPem])).stderr).toBe('error: the CA certificate is not PEM (400)\n');
    expect((await run(['ca', 'disable', 'ca_1'], { token: VIEWER_TOKEN })).stderr).toBe('error: this needs the operator role; the API key has viewer (403)\n');
  });
});
