import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTestFirmware, testOtaCatalog } from '../../testing/ota-fixture.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { parseDays, parseDuration, parseFailureThreshold, parseRate, parseWaves, parseWindow } from './rollout-flags.js';

const HANGAR_BIN = fileURLToPath(new URL('../../../bin/hangar.js', import.meta.url));

/** `hangar ARGS` as a user runs it: a child process (from source), exit code and output. */
function hangar(args: string[], connection: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HANGAR_BIN, ...args, ...connection], { env: { ...process.env, HANGAR_FROM_SOURCE: '1' }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('hangar rollout flags', () => {
  it('reads waves, rates, thresholds, durations, windows and days', () => {
    expect(parseWaves('10%,50%,100%')).toEqual([{ percent: 10 }, { percent: 50 }, { percent: 100 }]);
    expect(parseWaves('5, 20')).toEqual([{ count: 5 }, { count: 20 }]);
    expect(() => parseWaves('10%,x')).toThrow('"x" is neither');
    expect(parseRate('30')).toEqual({ perMinute: 30 });
    expect(parseRate('30/min,exp:2:50:1000')).toEqual({ perMinute: 30, exponential: { factor: 2, everySucceeded: 50, maxPerMinute: 1000 } });
    expect(() => parseRate('0')).toThrow('offers per minute');
    expect(() => parseRate('5/s')).toThrow();
    expect(parseFailureThreshold('5')).toEqual({ count: 5 });
    expect(parseFailureThreshold('12.5%')).toEqual({ percent: 12.5 });
    expect(() => parseFailureThreshold('0')).toThrow();
    expect([parseDuration('90'), parseDuration('10m'), parseDuration('1h'), parseDuration('2d')]).toEqual([90, 600, 3600, 172_800]);
    expect(() => parseDuration('1w')).toThrow();
    expect(parseWindow('22:30-02:00')).toEqual({ startMinute: 1350, endMinute: 120 });
    expect(() => parseWindow('25:00-02:00')).toThrow('HH:MM-HH:MM');
    expect(parseDays('mon,Sat,0')).toEqual([1, 6, 0]);
    expect(() => parseDays('funday')).toThrow();
  });
});

/** The rollout commands as child processes against a whole Hangar on a real socket. */
describe('hangar rollout', () => {
  let t: TestHangar;
  let connection: string[];
  let firmwareId: string;

  beforeAll(async () => {
    const catalog = testOtaCatalog();
    firmwareId = addTestFirmware(catalog, { version: '2.0.0' }).id;
    t = await startTestHangar('sqlite', { otaCatalog: catalog, rolloutTickIntervalMs: 0 });
    const base = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    connection = ['--url', base, '--token', t.adminToken];
    for (let i = 0; i < 4; i++) {
      await t.call('POST', '/api/v1/devices', { body: { id: `cli-ro-${i}`, tags: { cli: 'ro' } } });
      await t.hangar.services.twins.patchReported('default', `cli-ro-${i}`, { firmwareVersion: '1.0.0' });
    }
    const rule = await t.call('POST', '/api/v1/alert-rules', { body: { name: 'cli-hot', severity: 'major', condition: 'telemetry.temp > 90' } });
    expect(rule.status).toBe(201);
    await t.hangar.services.ota.idle();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('answers a dry run, then creates a rollout from every flag', async () => {
    const dry = await hangar(['rollout', 'create', '--firmware', firmwareId, '--query', 'tags.cli = "ro"', '--waves', '50%,100%', '--dry-run'], connection);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^targeted: +4$/m);
    expect(dry.stdout).toMatch(/^waves: +2, 2$/m);
    expect((await t.call('GET', '/api/v1/rollouts')).body.items).toHaveLength(0);
    const rule = (await t.call('GET', '/api/v1/alert-rules')).body.items[0].id as string;
    const made = await hangar(
      ['rollout', 'create', '--firmware', firmwareId, '--name', 'cli rollout', '--query', 'tags.cli = "ro"', '--waves', '1,3', '--max-concurrent', '2', '--rate', '10/min,exp:2:5:100', '--failure-threshold', '25%', '--min-finished', '4', '--on-failure', 'abort', '--health-window', '10m', '--health-alerts', rule, '--max-disconnects', '2', '--timeout', '1h', '--window', '02:00-05:00', '--window-days', 'sat,sun', '--approval', '--dynamic', '--allow-downgrade', '--no-deltas', '--json'],
      connection,
    );
    expect(made.stderr).toBe('');
    const r = JSON.parse(made.stdout);
    expect(r).toMatchObject({
      name: 'cli rollout',
      state: 'running',
      waves: [
        { percent: null, count: 1 },
        { percent: null, count: 3 },
      ],
      maxConcurrent: 2,
      rate: { perMinute: 10, exponential: { factor: 2, everySucceeded: 5, maxPerMinute: 100 } },
      failureThreshold: { count: null, percent: 25, minFinished: 4, action: 'abort' },
      healthGate: { windowSec: 600, maxDisconnects: 2, alertRuleIds: [rule] },
      deviceTimeoutSec: 3600,
      maintenanceWindow: { startMinute: 120, endMinute: 300, days: [0, 6] },
      approvalBetweenWaves: true,
      dynamic: true,
      allowDowngrade: true,
      useDeltas: false,
      counts: { targeted: 4, pending: 4 },
    });
  }, 120_000);

  it('lists, shows, pauses, resumes and aborts, and refuses what a state does not allow', async () => {
    const id = (await t.call('GET', '/api/v1/rollouts')).body.items[0].id as string;
    const [list, devices, paused] = await Promise.all([hangar(['rollout', 'list'], connection), hangar(['rollout', 'devices', id, '--state', 'pending'], connection), hangar(['rollout', 'pause', id], connection)]);
    expect(list.stdout).toContain(id);
    expect(list.stdout).toContain('cli rollout');
    expect(devices.stdout.split('\n').filter((l) => l.includes('cli-ro-'))).toHaveLength(4);
    expect(paused.stdout).toMatch(/^state: +paused$/m);
    const [approve, resumed] = await Promise.all([hangar(['rollout', 'approve', id], connection), hangar(['rollout', 'resume', id], connection)]);
    expect(approve.code).toBe(1);
    expect(approve.stderr).toMatch(/^error: rollout .* is (paused|running); approve needs it awaiting_approval \(409\)\n$/);
    expect(resumed.stdout).toMatch(/^state: +running$/m);
    const aborted = await hangar(['rollout', 'abort', id], connection);
    expect(aborted.stdout).toMatch(/^state: +aborted$/m);
    expect(aborted.stdout).toMatch(/^progress: +4 devices: cancelled 4$/m);
    // --watch on an ended rollout prints it once and exits.
    const watched = await hangar(['rollout', 'show', id, '--watch'], connection);
    expect(watched.code).toBe(0);
    expect(watched.stdout.match(/^state:/gm)).toHaveLength(1);
  }, 120_000);

  it('refuses bad input with one line and exit 1', async () => {
    const [both, rate, query, missing] = await Promise.all([
      hangar(['rollout', 'create', '--firmware', firmwareId, '--query', 'id ~ "*"', '--group', 'g'], connection),
      hangar(['rollout', 'create', '--firmware', firmwareId, '--query', 'id ~ "*"', '--rate', '0'], connection),
      hangar(['rollout', 'create', '--firmware', firmwareId, '--query', 'tags.cli = '], connection),
      hangar(['rollout', 'show', 'ro_nope'], connection),
    ]);
    expect([both.code, rate.code, query.code, missing.code]).toEqual([1, 1, 1, 1]);
    expect(both.stderr).toBe('error: give exactly one of --query and --group\n');
    expect(rate.stderr).toContain('offers per minute');
    expect(query.stderr.split('\n')[0]).toMatch(/^error: .*\(400\)$/);
    expect(query.stderr).toContain('^');
    expect(missing.stderr).toBe('error: rollout "ro_nope" not found (404)\n');
  }, 120_000);
});
