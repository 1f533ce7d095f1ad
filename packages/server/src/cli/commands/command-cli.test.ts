import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { runCli } from './cli-fixture.js';
import { registerCommandCommands } from './command.js';
import { registerJobCommands } from './job.js';

/** `hangar command …` and `hangar job …` against a whole Hangar on a real socket. */
describe('hangar command and hangar job', () => {
  let t: TestHangar;
  let connection: string[];

  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    const base = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    connection = ['--url', base, '--token', t.adminToken];
    for (const id of ['cli-1', 'cli-2']) await t.call('POST', '/api/v1/devices', { body: { id, tags: { cli: 'yes' } } });
  });
  afterAll(async () => {
    await t.close();
  });

  const register = (program: Parameters<typeof registerCommandCommands>[0], io: Parameters<typeof registerCommandCommands>[1]): void => {
    registerCommandCommands(program, io);
    registerJobCommands(program, io);
  };
  const run = (...args: string[]): ReturnType<typeof runCli> => runCli(register, args, { connection });

  it('sends a command with params, timeout and TTL, and lists it', async () => {
    const sent = await run('command', 'send', 'cli-1', 'reboot', '--params', '{"delay":5}', '--timeout', '12', '--ttl', '600', '--json');
    expect(sent.exitCode).toBe(0);
    const body = JSON.parse(sent.stdout);
    expect(body).toMatchObject({ deviceId: 'cli-1', name: 'reboot', params: { delay: 5 }, timeoutSec: 12, ttlSec: 600, state: 'queued' });
    const listed = await run('command', 'list', 'cli-1');
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout).toContain(body.id);
    expect(listed.stdout).toContain('queued');
    const shown = await run('command', 'show', 'cli-1', body.id);
    expect(shown.stdout).toMatch(/params:\s+\{"delay":5\}/);
    const cancelled = await run('command', 'cancel', 'cli-1', body.id);
    expect(cancelled.stdout).toMatch(/state:\s+cancelled/);
  });

  it('waits for the result with --wait and exits 1 unless it succeeded', async () => {
    const waiting = run('command', 'send', 'cli-2', 'ping', '--wait');
    const commands = t.hangar.services.commands;
    let taken: Awaited<ReturnType<typeof commands.take>> = [];
    for (let i = 0; i < 100 && taken.length === 0; i++) {
      taken = await commands.take('default', 'cli-2');
      if (taken.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await commands.complete('default', 'cli-2', taken[0]!.id, { status: 'failed', error: 'no route' });
    const r = await waiting;
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('ended failed: no route');
  });

  it('refuses bad input with one line and exit 1', async () => {
    const badJson = await run('command', 'send', 'cli-1', 'reboot', '--params', '[1]');
    expect(badJson.exitCode).toBe(1);
    expect(badJson.stderr).toContain('JSON object');
    const badName = await run('command', 'send', 'cli-1', 'bad name');
    expect(badName.exitCode).toBe(1);
    expect(badName.stderr).toMatch(/^error: command name .* is not valid.*\(400\)\n$/);
    const missing = await run('command', 'send', 'nope', 'reboot');
    expect(missing.stderr).toBe('error: device "nope" not found (404)\n');
    const query = await run('job', 'create', 'reboot', '--query', 'tags.cli = ');
    expect(query.exitCode).toBe(1);
    expect(query.stderr.split('\n')[0]).toMatch(/^error: .*\(400\)$/);
    expect(query.stderr).toContain('^');
  });

  it('creates, shows, lists and cancels a job', async () => {
    const created = await run('job', 'create', 'get-system-info', '--query', 'tags.cli = "yes"', '--rate', '1', '--concurrency', '1', '--abort-failed-count', '3', '--json');
    expect(created.exitCode).toBe(0);
    const job = JSON.parse(created.stdout);
    expect(job).toMatchObject({ state: 'running', ratePerMinute: 1, maxConcurrency: 1, abortThreshold: { failedCount: 3 }, progress: { targeted: 2 } });
    const shown = await run('job', 'show', job.id, '--devices');
    expect(shown.stdout).toContain('cli-1');
    expect(shown.stdout).toMatch(/progress:\s+\d\/2 finished/);
    expect((await run('job', 'list')).stdout).toContain(job.id);
    const cancelled = await run('job', 'cancel', job.id);
    expect(cancelled.stdout).toMatch(/state:\s+cancelled/);
    const again = await run('job', 'cancel', job.id);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('(409)');
    expect((await run('job', 'show', 'job_none')).stderr).toBe('error: job "job_none" not found (404)\n');
  });
});
