import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { Capture, runCli } from './cli-fixture.js';
import { registerDeviceCommands } from './device.js';
import { registerDeviceEventsCommand, registerLogCommands, sinceToFrom } from './logs.js';

/** `hangar logs` and `hangar device events` against a real Hangar on a loopback socket. */
describe('hangar logs and hangar device events', () => {
  let t: TestHangar;
  let connection: string[];
  const register = (program: Command, io: Parameters<typeof registerLogCommands>[1]): void => {
    registerLogCommands(program, io);
    registerDeviceEventsCommand(registerDeviceCommands(program, io), io);
  };

  beforeAll(async () => {
    t = await startTestHangar('sqlite', { timeline: { flushDelayMs: 1 } });
    const base = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    connection = ['--url', base, '--token', t.adminToken];
    expect((await t.call('POST', '/api/v1/devices', { body: { id: 'cli-1' } })).status).toBe(201);
    await t.hangar.services.logs.ingest(
      { tenantId: 'default', deviceId: 'cli-1' },
      Buffer.from(JSON.stringify([{ ts: 1000, level: 'info', msg: 'booted' }, { ts: 2000, level: 'error', msg: 'Sensor failed', fields: { bus: 1 } }, { ts: 3000, level: 'warn', msg: 'sensor retry' }])),
      'json',
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('prints the newest records oldest first, filtered by level and text', async () => {
    const all = await runCli(register, ['logs', 'cli-1'], { connection });
    expect(all.exitCode).toBe(0);
    expect(all.stdout).toBe(
      ['1970-01-01T00:00:01.000Z INFO  booted', '1970-01-01T00:00:02.000Z ERROR Sensor failed {"bus":1}', '1970-01-01T00:00:03.000Z WARN  sensor retry', ''].join('\n'),
    );
    const filtered = await runCli(register, ['logs', 'cli-1', '--level', 'warn', '--grep', 'SENSOR'], { connection });
    expect(filtered.stdout.split('\n').filter(Boolean)).toEqual(['1970-01-01T00:00:02.000Z ERROR Sensor failed {"bus":1}', '1970-01-01T00:00:03.000Z WARN  sensor retry']);
    const json = await runCli(register, ['logs', 'cli-1', '--json', '--limit', '1'], { connection });
    expect(JSON.parse(json.stdout)).toMatchObject({ msg: 'sensor retry', level: 'warn' });
    expect((await runCli(register, ['logs', 'cli-1', '--since', '1h'], { connection })).stdout).toBe('');
  });

  it('says what is wrong in one line with a non-zero exit', async () => {
    const unknown = await runCli(register, ['logs', 'nobody'], { connection });
    expect([unknown.exitCode, unknown.stderr]).toEqual([1, 'error: device "nobody" not found (404)\n']);
    const level = await runCli(register, ['logs', 'cli-1', '--level', 'loud'], { connection });
    expect(level.exitCode).toBe(1);
    expect(level.stderr).toMatch(/use one of debug, info, warn, error/);
    const since = await runCli(register, ['logs', 'cli-1', '--since', 'yesterday'], { connection });
    expect([since.exitCode, since.stderr]).toEqual([1, 'error: --since must be a duration such as 30s, 15m, 2h, 7d or a time such as 2026-01-02T03:04:05Z, not "yesterday"\n']);
    expect(sinceToFrom('15m', Date.parse('2026-01-01T00:15:00Z'))).toBe('2026-01-01T00:00:00.000Z');
  });

  it('--follow prints records as they are uploaded, filtered, until the stream ends', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const program = new Command('hangar').exitOverride();
    register(program, { stdout, stderr });
    process.exitCode = undefined;
    const run = program.parseAsync(['node', 'hangar', 'logs', 'cli-1', '--follow', '--level', 'warn', '--since', '1s', ...connection]);
    const device = { tenantId: 'default', deviceId: 'cli-1' };
    // Until the stream is open, uploads are not tailed: upload until one shows. Their old ts
    // keeps them out of the first page (--since 1s), so what shows came from the stream.
    const deadline = Date.now() + 10_000;
    while (!stdout.text.includes('tailed')) {
      if (Date.now() > deadline) throw new Error(`nothing tailed: ${stdout.text} ${stderr.text}`);
      await t.hangar.services.logs.ingest(device, Buffer.from(JSON.stringify([{ ts: 5000, level: 'debug', msg: 'hidden' }, { ts: 5000, level: 'error', msg: 'tailed' }])), 'json');
      await new Promise((r) => setTimeout(r, 50));
    }
    t.hangar.services.events.close();
    await run;
    expect(process.exitCode).toBe(1);
    process.exitCode = undefined;
    expect(stderr.text).toMatch(/the server ended the event stream/);
    expect(stdout.text).not.toMatch(/hidden/);
    expect(stdout.text.split('\n').filter(Boolean).every((line) => / ERROR tailed$/.test(line))).toBe(true);
  });

  it('hangar device events prints the timeline', async () => {
    await t.hangar.services.timeline.recorder.flush();
    const res = await runCli(register, ['device', 'events', 'cli-1'], { connection });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toMatch(/device\.created/);
    expect(res.stdout).toMatch(/log\.error\s+count=1 msg=Sensor failed/);
    const bad = await runCli(register, ['device', 'events', 'cli-1', '--types', 'nope'], { connection });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/unknown timeline type "nope"/);
  });
});
