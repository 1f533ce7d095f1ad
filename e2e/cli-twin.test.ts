/**
 * `hangar twin get|set` as a user runs it: `node packages/server/bin/hangar.js` child processes
 * against a real `hangar serve`, with a device reporting over the HTTP device API in between.
 * The refusals in detail are in packages/server/src/cli/commands/twin.test.ts; here the command
 * is wired into the real binary and a stale --if-match fails like the user sees it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { callAsAdmin } from './support/browser.js';
import { runHangarCli, type CliResult } from './support/hangar-cli.js';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

// Each child process pays Node + tsx start-up (seconds on a busy two-core runner).
vi.setConfig({ testTimeout: 120_000 });

const DEVICE = 'cli-twin-1';
let hangar: RunningHangar;
let deviceToken = '';

const cli = (args: string[], input?: string): Promise<CliResult> => runHangarCli(hangar, args, input === undefined ? {} : { input });

beforeAll(async () => {
  hangar = await startHangar();
  await callAsAdmin(hangar, 'POST', '/devices', { id: DEVICE });
  deviceToken = (await callAsAdmin<{ token: string }>(hangar, 'POST', `/devices/${DEVICE}/credentials`, { type: 'token' })).token;
});

afterAll(async () => {
  await hangar?.stop();
});

describe('hangar twin', () => {
  it('sets desired, shows the delta until the device reports it, and refuses a stale --if-match', async () => {
    const set = await cli(['twin', 'set', DEVICE, '--file', '-', '--json'], '{"interval": 30, "debug": true}');
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    const afterSet = JSON.parse(set.stdout) as { etag: string; delta: Record<string, unknown> };
    expect(afterSet.delta).toEqual({ interval: 30, debug: true });

    const res = await fetch(`${hangar.url}/device/v1/twin/reported`, {
      method: 'PATCH',
      headers: { authorization: `Basic ${Buffer.from(`${DEVICE}:${deviceToken}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ interval: 30 }),
    });
    expect(res.status).toBe(200);

    const got = await cli(['twin', 'get', DEVICE]);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^etag: +"1-1"$/m);
    expect(got.stdout).toMatch(/^delta: +\{"debug":true\}$/m);

    // The device's report moved the etag: the one from before it is stale.
    const stale = await cli(['twin', 'set', DEVICE, '--patch', '{"debug": null}', '--if-match', afterSet.etag]);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toBe('');
    expect(stale.stderr).toMatch(/^error: If-Match "1-0" does not match the twin's current etag "1-1".*\(412\)\n$/);

    const fresh = await cli(['twin', 'set', DEVICE, '--patch', '{"debug": null}', '--if-match', '"1-1"']);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toMatch(/^delta: +none \(reported matches desired\)$/m);
  });

  it('names an unknown device in one line', async () => {
    const result = await cli(['twin', 'get', 'cli-twin-nope']);
    expect(result).toMatchObject({ code: 1, stdout: '', stderr: 'error: device "cli-twin-nope" not found (404)\n' });
  });
});
