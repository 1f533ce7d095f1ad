/**
 * The admin CLI as a user runs it: `node packages/server/bin/hangar.js …` child processes
 * against a real `hangar serve` process, checking what they print and how they exit, for good
 * and bad input alike.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runHangarCli, type CliResult, type CliRunOptions } from './support/hangar-cli.js';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

// Every `hangar` child process pays Node + tsx start-up (seconds on a busy two-core runner), and
// some tests run ten of them.
vi.setConfig({ testTimeout: 120_000 });

let hangar: RunningHangar;
let workDir: string;

/** Runs `hangar ARGS…` with HANGAR_URL/HANGAR_TOKEN pointing at the test server unless `env` overrides them. */
function cli(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
  return runHangarCli(hangar, args, options);
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** Exactly one line on stderr, starting `error: `, and no stack trace. */
function expectOneErrorLine(result: CliResult, pattern: RegExp): void {
  expect(result.code).toBe(1);
  expect(lines(result.stderr)).toHaveLength(1);
  expect(result.stderr).toMatch(/^error: /);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  hangar = await startHangar();
  workDir = mkdtempSync(join(tmpdir(), 'hangar-cli-e2e-'));
});

afterAll(async () => {
  await hangar?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('hangar device', () => {
  it('creates a device with tags, attributes and shows it', async () => {
    const created = await cli([
      'device', 'create', 'cli-berlin-1', '--type', 'sensor',
      '--tag', 'site=berlin', '--tag', 'floor=2', '--attr', 'rated=42', '--attr', 'model=X100',
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^id: +cli-berlin-1$/m);
    expect(created.stdout).toMatch(/^tags: +floor=2,site=berlin$/m);

    const shown = await cli(['device', 'show', 'cli-berlin-1', '--json']);
    expect(shown.code).toBe(0);
    const device = JSON.parse(shown.stdout) as Record<string, unknown>;
    expect(device).toMatchObject({
      id: 'cli-berlin-1',
      tenant: 'default',
      type: 'sensor',
      status: 'active',
      tags: { site: 'berlin', floor: '2' },
      attributes: { rated: 42, model: 'X100' },
      online: false,
    });
  });

  it('rejects a duplicate id and a bad --tag, each in one line', async () => {
    await cli(['device', 'create', 'cli-dup']);
    expectOneErrorLine(await cli(['device', 'create', 'cli-dup']), /\(409\)$/m);
    const badTag = await cli(['device', 'create', 'cli-x', '--tag', 'nokey']);
    expect(badTag.code).toBe(1);
    expect(badTag.stderr).toBe("error: option '--tag <key=value>' argument 'nokey' is invalid. expected KEY=VALUE\n");
    expectOneErrorLine(await cli(['device', 'create', 'bad id/with slash']), /\(400\)$/m);
  });

  it('names an unknown device', async () => {
    const result = await cli(['device', 'show', 'cli-nope']);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('error: device "cli-nope" not found (404)\n');
    expect(result.code).toBe(1);
  });

  it('lists a page with a next-cursor hint, or every page with --all', async () => {
    for (let i = 0; i < 5; i++) await cli(['device', 'create', `cli-page-${i}`, '--tag', 'batch=page']);
    const query = 'tags.batch = "page"';
    const first = await cli(['device', 'list', '--query', query, '--limit', '2']);
    expect(first.code).toBe(0);
    expect(lines(first.stdout)[0]).toMatch(/^ID\s+TYPE\s+STATUS\s+ONLINE\s+LAST SEEN\s+FIRMWARE\s+TAGS$/);
    expect(lines(first.stdout)).toHaveLength(3);
    expect(first.stderr).toMatch(/^more devices: repeat with --cursor \S+ \(or use --all\)\n$/);

    const all = await cli(['device', 'list', '--query', query, '--limit', '2', '--all', '--json']);
    expect(all.code).toBe(0);
    const doc = JSON.parse(all.stdout) as { items: Array<{ id: string }>; nextCursor: null };
    expect(doc.items.map((d) => d.id).sort()).toEqual(['cli-page-0', 'cli-page-1', 'cli-page-2', 'cli-page-3', 'cli-page-4']);
    expect(doc.nextCursor).toBeNull();
  });

  it('updates tags and status', async () => {
    await cli(['device', 'create', 'cli-upd', '--tag', 'a=1', '--tag', 'b=2']);
    const result = await cli(['device', 'update', 'cli-upd', '--tag', 'c=3', '--untag', 'a', '--status', 'suspended', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'suspended', tags: { b: '2', c: '3' } });
    expectOneErrorLine(await cli(['device', 'update', 'cli-upd']), /nothing to update/);
  });

  it('deletes only with --yes when not on a terminal', async () => {
    await cli(['device', 'create', 'cli-del']);
    const refused = await cli(['device', 'delete', 'cli-del']);
    expectOneErrorLine(refused, /^error: refusing to delete device "cli-del" without confirmation: pass --yes$/m);
    expect((await cli(['device', 'show', 'cli-del'])).code).toBe(0);
    const deleted = await cli(['device', 'delete', 'cli-del', '--yes']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toBe('deleted device "cli-del"\n');
    expect((await cli(['device', 'show', 'cli-del'])).stderr).toBe('error: device "cli-del" not found (404)\n');
  });
});

describe('hangar device import', () => {
  it('imports a CSV, reports row errors, and is safe to re-run', async () => {
    const rows = ['id,type,tags.site,attributes.rated'];
    for (let i = 0; i < 3000; i++) rows.push(`imp-${String(i).padStart(5, '0')},meter,hamburg,${i}`);
    rows.push('bad id with spaces,meter,hamburg,1');
    const file = join(workDir, 'devices.csv');
    writeFileSync(file, `${rows.join('\n')}\n`);

    const first = await cli(['device', 'import', file]);
    expect(first.code).toBe(1); // one row failed
    expect(first.stdout).toBe('created: 3000  updated: 0  unchanged: 0  failed: 1\n');
    expect(lines(first.stderr)[0]).toMatch(/^LINE\s+ID\s+REASON$/);
    expect(lines(first.stderr)[1]).toMatch(/^3002\s/);

    const again = await cli(['device', 'import', file, '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: 0, updated: 0, unchanged: 3000, failed: 1 });

    const count = await cli(['query', 'tags.site = "hamburg"', '--count']);
    expect(count.stdout).toBe('3000\n');
  });

  it('imports NDJSON and exits 0 when every row is fine', async () => {
    const file = join(workDir, 'devices.ndjson');
    writeFileSync(file, ['{"id":"nd-1","type":"valve","tags":{"site":"oslo"}}', '{"id":"nd-2","attributes":{"x":1}}'].join('\n') + '\n');
    const result = await cli(['device', 'import', file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('created: 2  updated: 0  unchanged: 0  failed: 0\n');
  });

  it('refuses other file types and missing files', async () => {
    expectOneErrorLine(await cli(['device', 'import', join(workDir, 'devices.xlsx')]), /must end in \.csv, \.ndjson or \.jsonl$/m);
    expectOneErrorLine(await cli(['device', 'import', join(workDir, 'absent.csv')]), /cannot read ".*absent\.csv" \(ENOENT\)$/m);
  });
});

describe('hangar query', () => {
  it('lists what a query selects', async () => {
    await cli(['device', 'create', 'q-1', '--tag', 'zone=q']);
    await cli(['device', 'create', 'q-2', '--tag', 'zone=q']);
    const result = await cli(['query', 'tags.zone = "q"']);
    expect(result.code).toBe(0);
    expect(lines(result.stdout).slice(1).map((l) => l.split(/\s+/)[0]).sort()).toEqual(['q-1', 'q-2']);
  });

  it('shows a caret under the position of a syntax error', async () => {
    const query = 'tags.site = "berlin" AND %%';
    const result = await cli(['query', query]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const [line, shown, caret, ...rest] = result.stderr.split('\n');
    expect(line).toMatch(/^error: .+ \(400\)$/);
    expect(shown).toBe(`  ${query}`);
    expect(caret).toMatch(/^ {2} *\^~*$/);
    // The caret points into the faulty part of the query.
    expect(caret!.indexOf('^') - 2).toBeGreaterThanOrEqual(query.indexOf('AND'));
    expect(rest).toEqual(['']);
  });
});

describe('hangar api-key and roles', () => {
  it('creates a key whose token works once and stops working when revoked', async () => {
    const created = await cli(['api-key', 'create', '--name', 'cli-viewer', '--role', 'viewer', '--json']);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; token: string; role: string };
    expect(key.role).toBe('viewer');

    const asViewer = { HANGAR_TOKEN: key.token };
    expect((await cli(['device', 'list'], { env: asViewer })).code).toBe(0);
    expectOneErrorLine(await cli(['device', 'create', 'viewer-made'], { env: asViewer }), /\(403\)$/m);

    const human = await cli(['api-key', 'list']);
    expect(human.stdout).toMatch(new RegExp(`^${key.id}\\s+cli-viewer\\s+viewer\\s`, 'm'));

    const revoked = await cli(['api-key', 'revoke', key.id]);
    expect(revoked.stdout).toBe(`revoked API key "${key.id}"\n`);
    expectOneErrorLine(await cli(['device', 'list'], { env: asViewer }), /\(401\)$/m);
    expectOneErrorLine(await cli(['api-key', 'revoke', 'no-such-key']), /^error: API key "no-such-key" not found \(404\)$/m);
  });

  it('prints the token with a warning in human mode', async () => {
    const result = await cli(['api-key', 'create', '--name', 'cli-ops', '--role', 'operator']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^token: +\S{20,}$/m);
    expect(result.stderr).toContain('it will not be shown again');
    const badRole = await cli(['api-key', 'create', '--name', 'x', '--role', 'root']);
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toMatch(/^error: option '--role <role>' argument 'root' is invalid/);
  });
});

describe('hangar user', () => {
  it('creates a user from a password on stdin, lists and disables it', async () => {
    const created = await cli(['user', 'create', 'cli-ada', '--role', 'operator', '--password-stdin', '--json'], {
      input: 'correct-horse-battery\n',
    });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const user = JSON.parse(created.stdout) as { id: string; username: string };
    expect(user.username).toBe('cli-ada');

    const list = await cli(['user', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^${user.id}\\s+cli-ada\\s+operator\\s`, 'm'));
    const disabled = await cli(['user', 'disable', user.id]);
    expect(disabled.stdout).toBe(`disabled user "${user.id}"\n`);

    expectOneErrorLine(
      await cli(['user', 'create', 'cli-short', '--role', 'viewer', '--password-stdin'], { input: 'short\n' }),
      /\(400\)$/m,
    );
    expectOneErrorLine(await cli(['user', 'create', 'cli-nopw', '--role', 'viewer']), /no password/);
  });
});

describe('connection and credentials', () => {
  it('needs a token', async () => {
    const result = await cli(['device', 'list'], { env: { HANGAR_TOKEN: undefined } });
    expect(result.stderr).toBe('error: no API token: pass --token or set HANGAR_TOKEN\n');
    expect(result.code).toBe(1);
  });

  it('says so when nothing listens at the URL', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    const result = await cli(['device', 'list', '--url', url]);
    expect(result.stderr).toBe(`error: cannot reach Hangar at ${url} (ECONNREFUSED)\n`);
    expect(result.code).toBe(1);
  });

  it('rejects a wrong token with the server reason, also in the middle of an upload', async () => {
    expectOneErrorLine(await cli(['device', 'list', '--token', 'hk_wrong']), /\(401\)$/m);
    const file = join(workDir, 'unauthorised.csv');
    writeFileSync(file, `id\n${Array.from({ length: 50_000 }, (_, i) => `nope-${i}`).join('\n')}\n`);
    expectOneErrorLine(await cli(['device', 'import', file, '--token', 'hk_wrong']), /\(401\)$/m);
  });
});
