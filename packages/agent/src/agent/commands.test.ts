import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandRegistry, type CommandRequest } from './commands.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-cmds-'));
  writeFileSync(join(dir, 'greet'), '#!/bin/sh\nprintf \'{"hello":"%s"}\' "$HANGAR_PARAM_WHO"\n');
  chmodSync(join(dir, 'greet'), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const cmd = (name: string, params: unknown = null, extra: Partial<CommandRequest> = {}): CommandRequest => ({ id: `c${++n}`, name, params, expiresAt: null, timeoutSec: 5, ...extra });
const hooks = { systemInfo: () => ({ kernel: 'k' }), uploadLogs: async () => 7 };

describe('CommandRegistry', () => {
  it('answers the built-ins', async () => {
    const r = new CommandRegistry(hooks);
    const ping = await r.execute(cmd('ping'));
    expect(ping.status).toBe('succeeded');
    expect(typeof (ping.result as { pong: number }).pong).toBe('number');
    expect(await r.execute(cmd('get-system-info'))).toEqual({ status: 'succeeded', result: { kernel: 'k' } });
    expect(await r.execute(cmd('upload-logs'))).toEqual({ status: 'succeeded', result: { uploaded: 7 } });
  });

  it('fails reboot and factory-reset without a configured hook, and runs the hook when there is one', async () => {
    const r = new CommandRegistry(hooks);
    expect(await r.execute(cmd('reboot'))).toMatchObject({ status: 'failed', error: expect.stringMatching(/^reboot is not configured/) });
    expect(await r.execute(cmd('factory-reset'))).toMatchObject({ status: 'failed', error: expect.stringMatching(/^factory-reset is not configured/) });
    const marker = join(dir, 'rebooted');
    const configured = new CommandRegistry({ ...hooks, rebootCommand: `touch ${marker}`, factoryResetCommand: 'exit 4' });
    expect(await configured.execute(cmd('reboot'))).toEqual({ status: 'succeeded', result: { started: true } });
    expect(await configured.execute(cmd('factory-reset'))).toEqual({ status: 'failed', result: null, error: 'the factory-reset command exited with 4' });
  });

  it('runs user handlers, failing with what they throw and on their timeout', async () => {
    const r = new CommandRegistry(hooks);
    r.register('add', (p) => (p as { a: number; b: number }).a + (p as { a: number; b: number }).b);
    r.register('boom', () => {
      throw new Error('no fuel');
    });
    r.register('hang', () => new Promise(() => undefined));
    expect(await r.execute(cmd('add', { a: 2, b: 3 }))).toEqual({ status: 'succeeded', result: 5 });
    expect(await r.execute(cmd('boom'))).toEqual({ status: 'failed', result: null, error: 'no fuel' });
    expect(await r.execute(cmd('hang', null, { timeoutSec: 0.2 }))).toEqual({ status: 'failed', result: null, error: 'the handler did not finish within 0 s' });
  });

  it('runs scripts of the commands dir and fails unknown commands', async () => {
    const r = new CommandRegistry(hooks, dir);
    expect(await r.execute(cmd('greet', { who: 'ops' }))).toEqual({ status: 'succeeded', result: { hello: 'ops' } });
    expect(await r.execute(cmd('nope'))).toEqual({ status: 'failed', result: null, error: 'unknown command "nope"' });
  });

  it('runs a command id once and answers a redelivery with the same result', async () => {
    const r = new CommandRegistry(hooks);
    let runs = 0;
    r.register('count', () => ++runs);
    const c = cmd('count');
    expect(await r.execute(c)).toEqual({ status: 'succeeded', result: 1 });
    expect(await r.execute(c)).toEqual({ status: 'succeeded', result: 1 });
    expect(runs).toBe(1);
  });

  it('does not run a command that expired on its way', async () => {
    const r = new CommandRegistry(hooks);
    expect(await r.execute(cmd('ping', null, { expiresAt: Date.now() - 1000 }))).toMatchObject({ status: 'failed', error: 'the command expired before it reached the device' });
  });
});
