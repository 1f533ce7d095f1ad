import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findScript, runScript } from './script-runner.js';

let dir: string;
function script(name: string, body: string, mode = 0o755): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(dir, name), mode);
}
const run = (name: string, params: unknown, timeoutMs = 5000) => runScript(join(dir, name), { name, commandId: 'c1', params, timeoutMs });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-scripts-'));
  script('echo-params', 'cat');
  script('env-params', 'printf \'{"level":"%s","name":"%s","id":"%s"}\' "$HANGAR_PARAM_LEVEL" "$HANGAR_COMMAND_NAME" "$HANGAR_COMMAND_ID"');
  script('text', 'echo hello world');
  script('silent', 'exit 0');
  script('fails', 'echo "disk on fire" >&2; exit 3');
  script('sleeps', 'sleep 30');
  script('not-exec', 'echo never', 0o644);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('script commands', () => {
  it('passes params as JSON on stdin and takes stdout JSON as the result', async () => {
    expect(await run('echo-params', { level: 3, tags: ['a'] })).toEqual({ ok: true, result: { level: 3, tags: ['a'] } });
  });

  it('passes scalar params, the name and the id in the environment', async () => {
    expect(await run('env-params', { level: 'debug' })).toEqual({ ok: true, result: { level: 'debug', name: 'env-params', id: 'c1' } });
  });

  it('takes non-JSON stdout as text and no output as null', async () => {
    expect(await run('text', null)).toEqual({ ok: true, result: 'hello world' });
    expect(await run('silent', null)).toEqual({ ok: true, result: null });
  });

  it('fails with the exit code and stderr on a non-zero exit', async () => {
    expect(await run('fails', null)).toEqual({ ok: false, result: null, error: 'fails exited with 3: disk on fire' });
  });

  it('kills a script past its timeout', async () => {
    const t0 = Date.now();
    const outcome = await run('sleeps', null, 300);
    expect(outcome).toEqual({ ok: false, result: null, error: 'sleeps timed out after 0 s and was killed' });
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('finds only executable files with safe names', () => {
    expect(findScript(dir, 'text')).toBe(join(dir, 'text'));
    expect(findScript(dir, 'not-exec')).toBeUndefined();
    expect(findScript(dir, 'absent')).toBeUndefined();
    expect(findScript(dir, '../etc/passwd')).toBeUndefined();
    expect(findScript(dir, '.hidden')).toBeUndefined();
  });
});
