import { execFile, execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { runCli } from './cli-fixture.js';
import { registerFirmwareCommands } from './firmware.js';

const BIN = fileURLToPath(new URL('../../../bin/hangar.js', import.meta.url));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `hangar firmware …` against a whole Hangar on a real socket. */
describe('hangar firmware', () => {
  let t: TestHangar;
  let base: string;
  let connection: string[];
  let dir: string;

  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    base = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    connection = ['--url', base, '--token', t.adminToken];
    dir = mkdtempSync(join(tmpdir(), 'hangar-fw-cli-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]): ReturnType<typeof runCli> => runCli(registerFirmwareCommands, args, { connection });

  it('uploads a file as a child process, showing plain progress lines off a terminal', async () => {
    const image = randomBytes(3 * 1024 * 1024 + 17);
    const file = join(dir, 'app.bin');
    writeFileSync(file, image);
    writeFileSync(join(dir, 'notes.md'), 'Fixes the watchdog.\n');
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [BIN, 'firmware', 'upload', file, '--version', '2.1.0', '--device-types', 'meter,gateway', '--release-notes', `@${join(dir, 'notes.md')}`, '--sha256', sha(image), '--json', ...connection],
        { env: { ...process.env, HANGAR_FROM_SOURCE: '1' } },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(result.stderr).toContain('uploading 100%');
    expect(result.code).toBe(0);
    const fw = JSON.parse(result.stdout);
    expect(fw).toMatchObject({ version: '2.1.0', deviceTypes: ['gateway', 'meter'], releaseNotes: 'Fixes the watchdog.\n', size: image.length, sha256: sha(image), signedBy: 'hangar' });
    expect(fw.signature).toMatch(/^[A-Za-z0-9+/]+=*$/);
  }, 60_000);

  it('lists, shows, downloads (checking the SHA-256) and deletes', async () => {
    const image = randomBytes(70_000);
    writeFileSync(join(dir, 'b.bin'), image);
    const up = await run('firmware', 'upload', join(dir, 'b.bin'), '--version', '2.2.0', '--json');
    expect(up.exitCode).toBe(0);
    const id = JSON.parse(up.stdout).id as string;
    const listed = await run('firmware', 'list');
    expect(listed.stdout).toMatch(/ID\s+VERSION\s+DEVICE TYPES/);
    expect(listed.stdout).toContain(id);
    expect((await run('firmware', 'list', '--device-type', 'toaster')).stdout).toContain(id); // any type
    const shown = await run('firmware', 'show', id);
    expect(shown.stdout).toMatch(new RegExp(`sha256:\\s+${sha(image)}`));
    const out = join(dir, 'b.out');
    const got = await run('firmware', 'download', id, '-o', out);
    expect(got.exitCode).toBe(0);
    expect(got.stdout).toContain(`sha256 ${sha(image)}`);
    expect(readFileSync(out).equals(image)).toBe(true);
    const refused = await run('firmware', 'delete', id);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('pass --yes');
    expect((await run('firmware', 'delete', id, '--yes')).stdout).toBe(`deleted firmware "${id}"\n`);
    expect((await run('firmware', 'show', id)).stderr).toBe(`error: firmware "${id}" not found (404)\n`);
  });

  it('rotates keys, registers an external key, and uploads with an external signature over `firmware manifest`', async () => {
    const before = await run('firmware', 'keys', 'list', '--json');
    const active = (JSON.parse(before.stdout).items as Array<{ keyId: string; state: string; kind: string }>).find((k) => k.kind === 'hangar' && k.state === 'active')!;
    const rotated = await run('firmware', 'keys', 'rotate');
    expect(rotated.exitCode).toBe(0);
    expect(rotated.stdout).toMatch(/state:\s+active/);
    const listed = await run('firmware', 'keys');
    expect(listed.stdout).toMatch(new RegExp(`${active.keyId}\\s+hangar\\s+retired`));
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const added = await run('firmware', 'keys', 'add-external', join(dir, 'pub.pem'), '--json');
    expect(added.exitCode).toBe(0);
    const keyId = JSON.parse(added.stdout).keyId as string;
    const image = randomBytes(5000);
    writeFileSync(join(dir, 'c.bin'), image);
    // Offline: no --url or --token.
    const manifest = await runCli(registerFirmwareCommands, ['firmware', 'manifest', join(dir, 'c.bin'), '--version', '3.0.0', '--id', 'cli-ext-1', '--device-types', 'meter']);
    expect(JSON.parse(manifest.stdout)).toEqual({ v: 1, firmwareId: 'cli-ext-1', version: '3.0.0', deviceTypes: ['meter'], size: 5000, sha256: sha(image) });
    const signature = sign(null, Buffer.from(manifest.stdout, 'utf8'), privateKey).toString('base64');
    const bad = await run('firmware', 'upload', join(dir, 'c.bin'), '--version', '3.0.0', '--id', 'cli-ext-1', '--signature', signature, '--key-id', keyId);
    expect(bad.exitCode).toBe(1); // signed for device type meter, uploaded for any
    expect(bad.stderr).toMatch(/^error: the signature does not verify/);
    const ok = await run('firmware', 'upload', join(dir, 'c.bin'), '--version', '3.0.0', '--device-types', 'meter', '--id', 'cli-ext-1', '--signature', signature, '--key-id', keyId);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`signed by:\\s+external key ${keyId}`));
  });

  it('follows the documented openssl flow for external signing', async () => {
    const ssl = (...args: string[]): Buffer => execFileSync('openssl', args, { cwd: dir });
    ssl('genpkey', '-algorithm', 'ed25519', '-out', 'signing.pem');
    ssl('pkey', '-in', 'signing.pem', '-pubout', '-out', 'signing-pub.pem');
    const keyId = JSON.parse((await run('firmware', 'keys', 'add-external', join(dir, 'signing-pub.pem'), '--json')).stdout).keyId as string;
    writeFileSync(join(dir, 'o.bin'), randomBytes(10_000));
    const manifest = await runCli(registerFirmwareCommands, ['firmware', 'manifest', join(dir, 'o.bin'), '--version', '5.0.0', '--id', 'ossl-5']);
    writeFileSync(join(dir, 'manifest.json'), manifest.stdout);
    const signature = ssl('pkeyutl', '-sign', '-inkey', 'signing.pem', '-rawin', '-in', 'manifest.json').toString('base64');
    const up = await run('firmware', 'upload', join(dir, 'o.bin'), '--version', '5.0.0', '--id', 'ossl-5', '--signature', signature, '--key-id', keyId, '--json');
    expect(up.stderr).toBe('');
    expect(JSON.parse(up.stdout)).toMatchObject({ id: 'ossl-5', signedBy: 'external', keyId, signature });
  });

  it('refuses bad input with one line and exit 1', async () => {
    writeFileSync(join(dir, 'd.bin'), randomBytes(100));
    const missing = await run('firmware', 'upload', join(dir, 'nope.bin'), '--version', '1.0.0');
    expect(missing.stderr).toMatch(/^error: cannot read ".*nope.bin" \(ENOENT\)\n$/);
    const badVersion = await run('firmware', 'upload', join(dir, 'd.bin'), '--version', 'latest');
    expect(badVersion.exitCode).toBe(1);
    expect(badVersion.stderr).toMatch(/^error: version "latest" is not a semantic version.*\(400\)\n$/);
    const badHash = await run('firmware', 'upload', join(dir, 'd.bin'), '--version', '1.0.0', '--sha256', 'abc');
    expect(badHash.exitCode).toBe(1);
    expect(badHash.stderr).toContain('64 hexadecimal');
    const wrongHash = await run('firmware', 'upload', join(dir, 'd.bin'), '--version', '1.0.0', '--sha256', sha(Buffer.from('x')));
    expect(wrongHash.stderr).toMatch(/not the declared/);
    const noId = await run('firmware', 'upload', join(dir, 'd.bin'), '--version', '1.0.0', '--signature', 'AAAA');
    expect(noId.stderr).toContain('--signature needs --id');
    const unknown = await run('firmware', 'download', 'fw_missing', '-o', join(dir, 'x.bin'));
    expect(unknown.stderr).toBe('error: firmware "fw_missing" not found (404)\n');
    expect((await run('firmware', 'list')).exitCode).toBe(0);
  });

  it('draws a progress bar on a terminal', async () => {
    writeFileSync(join(dir, 'e.bin'), randomBytes(300_000));
    const r = await runCli(registerFirmwareCommands, ['firmware', 'upload', join(dir, 'e.bin'), '--version', '4.0.0'], { connection, stderrTty: true });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('uploading [');
    expect(r.stdout).toMatch(/version:\s+4\.0\.0/);
  });
});
