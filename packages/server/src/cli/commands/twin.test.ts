/**
 * `hangar twin get|set`, run in-process (a real commander program) against a real Hangar
 * listening on loopback: what it prints, what it changes, and the one line and exit code 1 of
 * every refusal (bad JSON, a non-object patch, a stale --if-match, an unknown device, a viewer).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { lines, runCli, type RunOptions, type RunResult } from './cli-fixture.js';
import { MAX_PATCH_BYTES, registerTwinCommands } from './twin.js';

const DEVICE = 'pump-7';

let t: TestHangar;
let url = '';
let work = '';

function twin(args: string[], options: RunOptions & { token?: string } = {}): Promise<RunResult> {
  return runCli((program, io) => registerTwinCommands(program, io), ['twin', ...args], {
    ...options,
    connection: ['--url', url, '--token', options.token ?? t.adminToken],
  });
}

/** Exit 1, exactly one `error: …` line on stderr matching `pattern`, nothing on stdout. */
function expectOneErrorLine(result: RunResult, pattern: RegExp): void {
  expect(result.exitCode).toBe(1);
  expect(lines(result.stderr)).toHaveLength(1);
  expect(result.stderr).toMatch(/^error: /);
  expect(result.stderr.trimEnd()).toMatch(pattern);
  expect(result.stdout).toBe('');
}

async function storedTwin(): Promise<{ etag: string; desired: Record<string, unknown>; reported: Record<string, unknown>; delta: Record<string, unknown> }> {
  const res = await t.call('GET', `/api/v1/devices/${DEVICE}/twin`);
  expect(res.status).toBe(200);
  return res.body;
}

beforeAll(async () => {
  t = await startTestHangar('sqlite');
  url = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
  work = await mkdtemp(join(tmpdir(), 'hangar-twin-cli-'));
  expect((await t.call('POST', '/api/v1/devices', { body: { id: DEVICE, type: 'pump' } })).status).toBe(201);
});

afterAll(async () => {
  await t?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('hangar twin get', () => {
  it('shows an empty twin at version 0 with its etag', async () => {
    const res = await twin(['get', DEVICE]);
    expect(res.stderr).toBe('');
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(/^device: +pump-7$/m);
    expect(res.stdout).toMatch(/^etag: +"0-0"$/m);
    expect(res.stdout).toMatch(/^desired: +\$version 0$/m);
    expect(res.stdout).toMatch(/^delta: +none \(reported matches desired\)$/m);
  });

  it('prints the API document with --json', async () => {
    const res = await twin(['get', DEVICE, '--json']);
    expect(res.exitCode).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual(await storedTwin());
  });

  it('says an unknown device is not found, in one line', async () => {
    expectOneErrorLine(await twin(['get', 'no-such-device']), /^error: device "no-such-device" not found \(404\)$/);
  });
});

describe('hangar twin set', () => {
  it('applies a merge patch from --patch and shows the new twin and its delta', async () => {
    const res = await twin(['set', DEVICE, '--patch', '{"interval":30,"network":{"wifi":"office"}}']);
    expect(res.stderr).toBe('');
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(/^desired: +\$version 1, last change \S+Z$/m);
    expect(res.stdout).toContain('{"interval":30,"network":{"wifi":"office"}}');
    expect(res.stdout).toMatch(/^delta: +\{"interval":30,"network":\{"wifi":"office"\}\}$/m);
    const stored = await storedTwin();
    expect(stored.desired).toMatchObject({ interval: 30, network: { wifi: 'office' }, $version: 1 });
  });

  it('reads the patch from a file and from stdin (--file -); null deletes a property', async () => {
    const file = join(work, 'patch.json');
    await writeFile(file, '{"network":{"vlan":7}}\n');
    expect((await twin(['set', DEVICE, '--file', file])).exitCode).toBe(0);
    const res = await twin(['set', DEVICE, '--file', '-', '--json'], { stdin: '{"interval":null}' });
    expect(res.exitCode).toBe(0);
    const answered = JSON.parse(res.stdout) as { desired: Record<string, unknown> };
    expect(answered.desired).toMatchObject({ network: { wifi: 'office', vlan: 7 }, $version: 3 });
    expect(answered.desired).not.toHaveProperty('interval');
    expect(answered).toEqual(await storedTwin());
  });

  it('applies with --if-match when the etag is current, and refuses a stale one with 412', async () => {
    const { etag } = await storedTwin();
    const ok = await twin(['set', DEVICE, '--patch', '{"mode":"eco"}', '--if-match', etag]);
    expect(ok.exitCode).toBe(0);
    const after = await storedTwin();
    expect(after.desired).toMatchObject({ mode: 'eco' });

    const stale = await twin(['set', DEVICE, '--patch', '{"mode":"boost"}', '--if-match', etag]);
    expectOneErrorLine(stale, new RegExp(`does not match the twin's current etag ${after.etag}.*\\(412\\)$`));
    expect(await storedTwin()).toEqual(after);
  });

  it('refuses bad patches in one line and changes nothing', async () => {
    const before = await storedTwin();
    expectOneErrorLine(await twin(['set', DEVICE, '--patch', '{"interval":']), /^error: the merge patch from --patch is not valid JSON: /);
    expectOneErrorLine(await twin(['set', DEVICE, '--patch', '[1,2]']), /\(400\)$/);
    expectOneErrorLine(await twin(['set', DEVICE, '--patch', '{"$version":9}']), /\$version.*\(400\)$/);
    expectOneErrorLine(await twin(['set', DEVICE, '--patch', '  ']), /^error: the merge patch from --patch is empty$/);
    expectOneErrorLine(await twin(['set', DEVICE]), /^error: give the merge patch with exactly one of --patch JSON and --file FILE$/);
    expectOneErrorLine(await twin(['set', DEVICE, '--patch', '{}', '--file', 'x.json']), /exactly one of --patch JSON and --file FILE$/);
    expectOneErrorLine(await twin(['set', DEVICE, '--file', join(work, 'missing.json')]), /^error: cannot read .*missing\.json: ENOENT$/);
    const big = join(work, 'big.json');
    await writeFile(big, `{"blob":"${'x'.repeat(MAX_PATCH_BYTES)}"}`);
    expectOneErrorLine(await twin(['set', DEVICE, '--file', big]), /big\.json is \d+ bytes; a twin patch is at most 1048576 bytes$/);
    // Within the CLI's bound but over the server's 32 KiB per half: the server's 413.
    expectOneErrorLine(await twin(['set', DEVICE, '--patch', JSON.stringify({ blob: 'x'.repeat(40_000) })]), /\(413\)$/);
    expect(await storedTwin()).toEqual(before);
  });

  it('says an unknown device is not found, and that a viewer may not change desired', async () => {
    expectOneErrorLine(await twin(['set', 'no-such-device', '--patch', '{"a":1}']), /^error: device "no-such-device" not found \(404\)$/);
    const viewer = await t.call('POST', '/api/v1/api-keys', { body: { name: 'twin-viewer', role: 'viewer' } });
    expect(viewer.status).toBe(201);
    const before = await storedTwin();
    expectOneErrorLine(await twin(['set', DEVICE, '--patch', '{"a":1}'], { token: viewer.body.token }), /\(403\)$/);
    expect((await twin(['get', DEVICE], { token: viewer.body.token })).exitCode).toBe(0);
    expect(await storedTwin()).toEqual(before);
  });
});
