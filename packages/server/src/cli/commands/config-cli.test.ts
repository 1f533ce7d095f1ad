import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { lines, runCli, type RunResult } from './cli-fixture.js';
import { registerConfigCommands } from './config.js';

// The commands against a real Hangar on a loopback socket.
let t: TestHangar;
let url: string;
let workDir: string;

function run(args: string[], token?: string): Promise<RunResult> {
  return runCli((program, io) => registerConfigCommands(program, io), args, { connection: ['--url', url, '--token', token ?? t.adminToken] });
}

async function ok(args: string[]): Promise<string> {
  const result = await run(args);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  t = await startTestHangar('sqlite');
  await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(t.hangar.http.server.address() as AddressInfo).port}`;
  workDir = await mkdtemp(join(tmpdir(), 'hangar-config-cli-'));
  await t.call('POST', '/api/v1/devices', { body: { id: 'cli-1', tags: { site: 'berlin' } } });
});

afterAll(async () => {
  await t.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('hangar config', () => {
  it('creates from inline JSON or a file, lists, shows, updates and deletes', async () => {
    const created = JSON.parse(await ok(['config', 'create', '--name', 'berlin', '--target', 'tags.site = "berlin"', '--content', '{"desired":{"interval":30}}', '--priority', '5', '--label', 'team=ops', '--json']));
    expect(created).toMatchObject({ name: 'berlin', priority: 5, labels: { team: 'ops' }, content: { desired: { interval: 30 } } });
    await t.hangar.configurationReconciler.idle();
    expect((await t.call('GET', '/api/v1/devices/cli-1/twin')).body.desired.interval).toBe(30);

    const file = join(workDir, 'content.json');
    await writeFile(file, JSON.stringify({ desired: { led: 'off' } }));
    const human = await ok(['config', 'create', '--name', 'from-file', '--target', '', '--content', file]);
    expect(human).toMatch(/^name: +from-file$/m);
    expect(human).toMatch(/^target: +\(all devices\)$/m);

    const table = lines(await ok(['config', 'list']));
    expect(table[0]).toMatch(/^ID +NAME +PRIORITY +TARGET +TARGETED +APPLIED +PENDING +CONFLICTING/);
    expect(table.some((l) => l.includes('berlin') && /\b5\b/.test(l))).toBe(true);

    expect(await ok(['config', 'show', created.id])).toMatch(/^targeted: +1$/m);
    expect(lines(await ok(['config', 'devices', created.id, '--status', 'pending']))).toEqual([expect.stringMatching(/^DEVICE +STATUS +CONFLICTING +UPDATED/), expect.stringMatching(/^cli-1 +pending +no /)]);
    expect(JSON.parse(await ok(['config', 'devices', created.id, '--status', 'applied', '--json']))).toEqual({ items: [], nextCursor: null });
    const updated = JSON.parse(await ok(['config', 'update', created.id, '--priority', '7', '--target', 'tags.site = "paris"', '--json']));
    expect(updated).toMatchObject({ priority: 7, target: 'tags.site = "paris"' });
    expect(await ok(['config', 'delete', created.id, '--yes'])).toBe(`deleted configuration "${created.id}"\n`);
    expect((await t.call('GET', `/api/v1/configurations/${created.id}`)).status).toBe(404);
  });

  it('says what is wrong in one line and exits non-zero', async () => {
    const badQuery = await run(['config', 'create', '--name', 'x', '--target', 'tags.site = = "a"', '--content', '{"desired":{"a":1}}']);
    expect(badQuery.exitCode).not.toBe(0);
    expect(badQuery.stderr).toContain('target is not a valid fleet query');

    const badJson = await run(['config', 'create', '--name', 'x', '--target', '', '--content', '{"desired":']);
    expect(badJson.exitCode).not.toBe(0);
    expect(badJson.stderr).toContain('--content is not valid JSON');

    const missing = await run(['config', 'create', '--name', 'x', '--target', '', '--content', join(workDir, 'nope.json')]);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain('cannot read');

    const unknown = await run(['config', 'show', 'nope']);
    expect(unknown.exitCode).not.toBe(0);
    expect(unknown.stderr).toContain('configuration "nope" not found');

    const nothing = await run(['config', 'update', 'nope']);
    expect(nothing.exitCode).not.toBe(0);
    expect(nothing.stderr).toContain('nothing to update');

    const badPriority = await run(['config', 'create', '--name', 'x', '--target', '', '--content', '{}', '--priority', 'high']);
    expect(badPriority.exitCode).not.toBe(0);
    expect((await t.call('GET', '/api/v1/configurations')).body.items.map((c: any) => c.name)).not.toContain('x');
  });
});
