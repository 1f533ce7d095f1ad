/**
 * The admin CLI commands, run in-process (a real commander program, `parseAsync`) against a
 * small `node:http` server on a real socket that answers like .tmp/api-contract.md. The real
 * server's end-to-end run lives in e2e/cli.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FakeServer,
  TOKEN,
  json,
  lines,
  problem,
  readJson,
  runCli,
  type RecordedRequest,
  type RunOptions as CliRunOptions,
  type RunResult,
} from './cli-fixture.js';
import { registerApiKeyCommands } from './api-key.js';
import { registerDeviceCommands } from './device.js';
import { registerQueryCommand } from './query.js';
import { registerUserCommands } from './user.js';

// ---------------------------------------------------------------------------------------------
// A fake Hangar that answers like the contract

interface WireDevice {
  id: string;
  tenant: string;
  type: string;
  status: string;
  tags: Record<string, string>;
  attributes: Record<string, unknown>;
  groups: string[];
  online: boolean;
  lastSeen: string | null;
  firmwareVersion: string | null;
  createdAt: string;
  updatedAt: string;
}

interface ImportStats {
  chunks: number;
  bytes: number;
  contentType: string | undefined;
  transferEncoding: string | undefined;
}

class FakeHangar extends FakeServer {
  readonly devices = new Map<string, WireDevice>();
  readonly requests: RecordedRequest[] = [];
  imports: ImportStats[] = [];
  /** Bytes of the import in progress, readable while the upload is still running. */
  importBytesSoFar = 0;
  apiKeys: Array<Record<string, unknown>> = [];
  users: Array<Record<string, unknown>> = [];

  reset(): void {
    this.devices.clear();
    this.requests.length = 0;
    this.imports = [];
    this.importBytesSoFar = 0;
    this.apiKeys = [];
    this.users = [];
  }

  addDevices(n: number, prefix = 'dev'): void {
    for (let i = 0; i < n; i++) {
      const id = `${prefix}-${String(i).padStart(3, '0')}`;
      this.devices.set(id, makeDevice({ id, tags: { site: i % 2 === 0 ? 'berlin' : 'paris' } }));
    }
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const method = req.method ?? 'GET';

    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      req.resume();
      this.requests.push({ method, path, query: url.searchParams, body: undefined });
      return problem(res, 401, 'UNAUTHENTICATED', 'Authentication required', 'invalid or missing API key');
    }

    if (method === 'POST' && path === '/devices/import') {
      this.requests.push({ method, path, query: url.searchParams, body: undefined });
      return this.handleImport(req, res);
    }

    const body = await readJson(req);
    this.requests.push({ method, path, query: url.searchParams, body });

    if (path === '/devices' && method === 'GET') {
      const q = url.searchParams.get('q');
      if (q !== null && q.includes('BAD')) {
        return problem(res, 400, 'INVALID_QUERY', 'Invalid fleet query', `unexpected "BAD"`, {
          position: q.indexOf('BAD'),
          length: 3,
        });
      }
      let items = [...this.devices.values()];
      const site = q?.match(/^tags\.site = "(.*)"$/)?.[1];
      if (site !== undefined) items = items.filter((d) => d.tags['site'] === site);
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const offset = Number(url.searchParams.get('cursor') ?? 0);
      const page = items.slice(offset, offset + limit);
      const next = offset + limit < items.length ? String(offset + limit) : null;
      return json(res, 200, { items: page, nextCursor: next });
    }
    if (path === '/devices' && method === 'POST') {
      const input = body as Partial<WireDevice>;
      if (!input.id) return problem(res, 400, 'VALIDATION_FAILED', 'Invalid request', undefined, { errors: [{ path: '/id', message: 'is required' }] });
      if (this.devices.has(input.id)) return problem(res, 409, 'DEVICE_EXISTS', 'Device already exists', `device "${input.id}" already exists`);
      if (input.groups?.includes('nogroup')) return problem(res, 404, 'GROUP_NOT_FOUND', 'Group not found', 'group "nogroup" not found');
      const device = makeDevice(input);
      this.devices.set(device.id, device);
      return json(res, 201, device);
    }
    const deviceMatch = path.match(/^\/devices\/([^/]+)$/);
    if (deviceMatch) {
      const id = decodeURIComponent(deviceMatch[1] ?? '');
      const device = this.devices.get(id);
      if (!device) return problem(res, 404, 'DEVICE_NOT_FOUND', 'Device not found', `no device with id ${id}`);
      if (method === 'GET') return json(res, 200, device);
      if (method === 'DELETE') {
        this.devices.delete(id);
        res.writeHead(204).end();
        return;
      }
      if (method === 'PATCH') {
        const patch = body as { type?: string; status?: string; tags?: Record<string, string | null> };
        if (patch.type) device.type = patch.type;
        if (patch.status) device.status = patch.status;
        for (const [k, v] of Object.entries(patch.tags ?? {})) {
          if (v === null) delete device.tags[k];
          else device.tags[k] = v;
        }
        return json(res, 200, device);
      }
    }

    if (path === '/api-keys' && method === 'GET') return json(res, 200, { items: this.apiKeys, nextCursor: null });
    if (path === '/api-keys' && method === 'POST') {
      const { name, role } = body as { name: string; role: string };
      const key = { id: `k${this.apiKeys.length + 1}`, name, role, prefix: 'hgr_abcd', createdAt: NOW, createdBy: 'admin', lastUsedAt: null, revokedAt: null };
      this.apiKeys.push(key);
      return json(res, 201, { ...key, token: 'hgr_abcd_secret_token_value' });
    }
    const keyMatch = path.match(/^\/api-keys\/([^/]+)$/);
    if (keyMatch && method === 'DELETE') {
      const key = this.apiKeys.find((k) => k.id === keyMatch[1]);
      if (!key) return problem(res, 404, 'API_KEY_NOT_FOUND', 'API key not found', 'no such key');
      key['revokedAt'] = NOW;
      res.writeHead(204).end();
      return;
    }

    if (path === '/users' && method === 'GET') return json(res, 200, { items: this.users, nextCursor: null });
    if (path === '/users' && method === 'POST') {
      const { username, password, role } = body as { username: string; password: string; role: string };
      if (password.length < 8) {
        return problem(res, 400, 'VALIDATION_FAILED', 'Invalid request', 'request body is invalid', {
          errors: [{ path: '/password', message: 'must be at least 8 characters' }],
        });
      }
      const user = { id: `u${this.users.length + 1}`, username, role, createdAt: NOW, disabledAt: null };
      this.users.push(user);
      return json(res, 201, user);
    }
    const userMatch = path.match(/^\/users\/([^/]+)$/);
    if (userMatch && method === 'DELETE') {
      const user = this.users.find((u) => u.id === userMatch[1]);
      if (!user) return problem(res, 404, 'USER_NOT_FOUND', 'User not found', 'no such user');
      user['disabledAt'] = NOW;
      res.writeHead(204).end();
      return;
    }
    return problem(res, 404, 'NOT_FOUND', 'Not found', `no route ${method} ${path}`);
  }

  /** Counts lines as they stream in; a row whose id is `bad…` fails. */
  private async handleImport(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const stats: ImportStats = {
      chunks: 0,
      bytes: 0,
      contentType: req.headers['content-type'],
      transferEncoding: req.headers['transfer-encoding'],
    };
    this.importBytesSoFar = 0;
    const csv = stats.contentType === 'text/csv';
    let rest = '';
    let line = 0;
    const result = { created: 0, updated: 0, unchanged: 0, failed: 0, errors: [] as Array<{ line: number; id?: string; reason: string }>, errorsTruncated: false };
    const row = (text: string): void => {
      line++;
      if (text === '' || (csv && line === 1)) return;
      const id = csv ? text.split(',')[0] ?? '' : (JSON.parse(text) as { id: string }).id;
      if (id.startsWith('bad')) {
        result.failed++;
        result.errors.push({ line, id, reason: 'invalid device id' });
      } else {
        result.created++;
      }
    };
    for await (const chunk of req) {
      const bytes = chunk as Buffer;
      stats.chunks++;
      stats.bytes += bytes.length;
      this.importBytesSoFar = stats.bytes;
      const lines = (rest + bytes.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) row(l);
    }
    if (rest) row(rest);
    this.imports.push(stats);
    json(res, 200, result);
  }
}

const NOW = '2025-01-02T03:04:05.678Z';

function makeDevice(input: Partial<WireDevice>): WireDevice {
  return {
    id: input.id ?? 'x',
    tenant: 'default',
    type: input.type ?? 'generic',
    status: 'active',
    tags: input.tags ?? {},
    attributes: input.attributes ?? {},
    groups: input.groups ?? [],
    online: false,
    lastSeen: null,
    firmwareVersion: null,
    createdAt: NOW,
    updatedAt: NOW,
  };
}

// ---------------------------------------------------------------------------------------------
// Running the CLI in-process

let hangar: FakeHangar;

interface RunOptions extends Omit<CliRunOptions, 'connection'> {
  /** Omit `--url`/`--token` (to test the env vars and the missing-token error). */
  bare?: boolean;
}

function run(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const connection = options.bare ? [] : ['--url', hangar.url, '--token', TOKEN];
  return runCli(
    (program, io) => {
      registerDeviceCommands(program, io);
      registerQueryCommand(program, io);
      registerApiKeyCommands(program, io);
      registerUserCommands(program, io);
    },
    args,
    { ...options, connection },
  );
}

const savedEnv = { url: process.env['HANGAR_URL'], token: process.env['HANGAR_TOKEN'] };
let workDir: string;

beforeAll(async () => {
  hangar = new FakeHangar();
  await hangar.start();
  workDir = await mkdtemp(join(tmpdir(), 'hangar-cli-'));
});

afterAll(async () => {
  await hangar.stop();
  await rm(workDir, { recursive: true, force: true });
});

beforeEach(() => {
  hangar.reset();
  delete process.env['HANGAR_URL'];
  delete process.env['HANGAR_TOKEN'];
});

afterEach(() => {
  for (const [name, value] of [
    ['HANGAR_URL', savedEnv.url],
    ['HANGAR_TOKEN', savedEnv.token],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

// ---------------------------------------------------------------------------------------------

describe('device list', () => {
  it('prints an aligned table with one row per device', async () => {
    hangar.addDevices(3);
    const { stdout, stderr, exitCode } = await run(['device', 'list']);
    expect(exitCode).toBe(0);
    expect(stderr).toBe('');
    const rows = lines(stdout);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/^ID\s+TYPE\s+STATUS\s+ONLINE\s+LAST SEEN\s+FIRMWARE\s+TAGS$/);
    expect(rows[1]).toMatch(/^dev-000\s+generic\s+active\s+no\s+-\s+-\s+site=berlin$/);
    // Aligned: every column starts at the same offset on every line.
    const typeAt = rows[0]!.indexOf('TYPE');
    for (const row of rows.slice(1)) expect(row.indexOf('generic')).toBe(typeAt);
    expect(stdout).not.toContain('\u001b['); // no colours when not a TTY
  });

  it('prints the API JSON as one document with --json', async () => {
    hangar.addDevices(2);
    const { stdout, exitCode } = await run(['device', 'list', '--json']);
    expect(exitCode).toBe(0);
    const doc = JSON.parse(stdout) as { items: Array<{ id: string }>; nextCursor: string | null };
    expect(doc.items.map((d) => d.id)).toEqual(['dev-000', 'dev-001']);
    expect(doc.nextCursor).toBeNull();
  });

  it('prints one page and the next-cursor hint on stderr without --all', async () => {
    hangar.addDevices(25);
    const { stdout, stderr, exitCode } = await run(['device', 'list', '--limit', '10']);
    expect(exitCode).toBe(0);
    expect(lines(stdout)).toHaveLength(11);
    expect(stderr).toBe('more devices: repeat with --cursor 10 (or use --all)\n');
    expect(hangar.requests[0]?.query.get('limit')).toBe('10');
  });

  it('follows nextCursor to the end with --all', async () => {
    hangar.addDevices(25);
    const { stdout, stderr, exitCode } = await run(['device', 'list', '--all', '--limit', '10', '--json']);
    expect(exitCode).toBe(0);
    expect(stderr).toBe('');
    const doc = JSON.parse(stdout) as { items: Array<{ id: string }>; nextCursor: null };
    expect(doc.items).toHaveLength(25);
    expect(doc.items[24]?.id).toBe('dev-024');
    expect(doc.nextCursor).toBeNull();
    expect(hangar.requests.map((r) => r.query.get('cursor'))).toEqual([null, '10', '20']);
  });

  it('renders every page as one table with --all', async () => {
    hangar.addDevices(25);
    const { stdout, exitCode } = await run(['device', 'list', '--all', '--limit', '7']);
    expect(exitCode).toBe(0);
    expect(lines(stdout)).toHaveLength(26);
    expect(hangar.requests).toHaveLength(4);
  });

  it('passes --query as q and says when nothing matched', async () => {
    hangar.addDevices(4);
    const found = await run(['device', 'list', '--query', 'tags.site = "paris"']);
    expect(lines(found.stdout)).toHaveLength(3);
    expect(hangar.requests[0]?.query.get('q')).toBe('tags.site = "paris"');
    const none = await run(['device', 'list', '--query', 'tags.site = "rome"']);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe('no devices found\n');
    expect(none.exitCode).toBe(0);
  });

  it('rejects a --limit outside 1..1000 as a usage error', async () => {
    const { stderr, exitCode } = await run(['device', 'list', '--limit', '0']);
    expect(exitCode).toBe(1);
    expect(stderr).toMatch(/^error: option '--limit <n>' argument '0' is invalid/);
    expect(hangar.requests).toHaveLength(0);
  });
});

describe('errors', () => {
  it('names the device on a 404', async () => {
    const { stdout, stderr, exitCode } = await run(['device', 'show', 'nope']);
    expect(exitCode).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('error: device "nope" not found (404)\n');
  });

  it('prints the server detail on a 401', async () => {
    const { stderr, exitCode } = await run(['device', 'list', '--url', hangar.url, '--token', 'wrong'], { bare: true });
    expect(exitCode).toBe(1);
    expect(stderr).toBe('error: invalid or missing API key (401)\n');
  });

  it('refuses to call the API without a token', async () => {
    const { stderr, exitCode } = await run(['device', 'list', '--url', hangar.url], { bare: true });
    expect(exitCode).toBe(1);
    expect(stderr).toBe('error: no API token: pass --token or set HANGAR_TOKEN\n');
    expect(hangar.requests).toHaveLength(0);
  });

  it('reads the URL and token from HANGAR_URL and HANGAR_TOKEN', async () => {
    hangar.addDevices(1);
    process.env['HANGAR_URL'] = hangar.url;
    process.env['HANGAR_TOKEN'] = TOKEN;
    const { stdout, exitCode } = await run(['device', 'show', 'dev-000', '--json'], { bare: true });
    expect(exitCode).toBe(0);
    expect((JSON.parse(stdout) as { id: string }).id).toBe('dev-000');
  });

  it('says it cannot reach Hangar when the connection is refused', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    const { stderr, exitCode } = await run(['device', 'list', '--url', url, '--token', TOKEN], { bare: true });
    expect(exitCode).toBe(1);
    expect(stderr).toBe(`error: cannot reach Hangar at ${url} (ECONNREFUSED)\n`);
  });

  it('rejects a malformed --url in one line', async () => {
    const { stderr, exitCode } = await run(['device', 'list', '--url', 'localhost:8080', '--token', TOKEN], { bare: true });
    expect(exitCode).toBe(1);
    expect(stderr).toBe('error: invalid Hangar URL "localhost:8080": only http and https are supported\n');
  });

  it('shows the query with a caret under the position of a query error', async () => {
    const query = 'tags.site = "berlin" BAD online';
    const { stdout, stderr, exitCode } = await run(['query', query]);
    expect(exitCode).toBe(1);
    expect(stdout).toBe('');
    const [line, shown, caret, ...rest] = stderr.split('\n');
    expect(line).toBe('error: unexpected "BAD" (400)');
    expect(shown).toBe(`  ${query}`);
    expect(caret).toBe(`  ${' '.repeat(query.indexOf('BAD'))}^~~`);
    expect(rest).toEqual(['']);
  });

  it('shows the caret for `device list --query` too, with newlines flattened', async () => {
    const query = 'online\nBAD';
    const { stderr, exitCode } = await run(['device', 'list', '--query', query]);
    expect(exitCode).toBe(1);
    expect(stderr).toBe('error: unexpected "BAD" (400)\n  online BAD\n         ^~~\n');
  });

  it('folds validation messages into the one line', async () => {
    const { stderr, exitCode } = await run(['user', 'create', 'alice', '--role', 'viewer', '--password-stdin'], {
      stdin: 'short\n',
    });
    expect(exitCode).toBe(1);
    expect(stderr).toBe('error: request body is invalid: /password: must be at least 8 characters (400)\n');
  });

  it('keeps commander usage errors and their exit code', async () => {
    const { stderr, exitCode } = await run(['device', 'show']);
    expect(exitCode).toBe(1);
    expect(stderr).toBe("error: missing required argument 'id'\n");
  });
});

describe('device create, show, update, delete', () => {
  it('sends repeatable tags, JSON-or-string attributes and groups', async () => {
    const { stdout, exitCode } = await run([
      'device', 'create', 'pump-1', '--type', 'pump',
      '--tag', 'site=berlin', '--tag', 'floor=2', '--tag', 'expr=a=b',
      '--attr', 'rated=42', '--attr', 'model=X100', '--attr', 'ports=[1,2]', '--attr', 'serial="007"',
      '--group', 'g1', '--group', 'g2',
    ]);
    expect(exitCode).toBe(0);
    expect(hangar.requests[0]?.body).toEqual({
      id: 'pump-1',
      type: 'pump',
      tags: { site: 'berlin', floor: '2', expr: 'a=b' },
      attributes: { rated: 42, model: 'X100', ports: [1, 2], serial: '007' },
      groups: ['g1', 'g2'],
    });
    expect(stdout).toMatch(/^id: +pump-1$/m);
    expect(stdout).toMatch(/^tags: +expr=a=b,floor=2,site=berlin$/m);
    expect(stdout).toMatch(/^attributes: +\{"rated":42,"model":"X100","ports":\[1,2\],"serial":"007"\}$/m);
    expect(stdout).toMatch(/^groups: +g1, g2$/m);
  });

  it('rejects a --tag without "=" before calling the API', async () => {
    const { stderr, exitCode } = await run(['device', 'create', 'x', '--tag', 'site']);
    expect(exitCode).toBe(1);
    expect(stderr).toBe("error: option '--tag <key=value>' argument 'site' is invalid. expected KEY=VALUE\n");
    expect(hangar.requests).toHaveLength(0);
  });

  it('reports a duplicate id with the server detail', async () => {
    hangar.addDevices(1);
    const { stderr, exitCode } = await run(['device', 'create', 'dev-000']);
    expect(exitCode).toBe(1);
    expect(stderr).toBe('error: device "dev-000" already exists (409)\n');
  });

  it('does not blame the new device for an unknown group', async () => {
    const { stderr } = await run(['device', 'create', 'x', '--group', 'nogroup']);
    expect(stderr).toBe('error: group "nogroup" not found (404)\n');
  });

  it('shows one device as key: value lines, or its JSON', async () => {
    hangar.addDevices(1);
    const human = await run(['device', 'show', 'dev-000']);
    expect(human.stdout).toContain('status:      active\n');
    expect(human.stdout).toContain('created:     2025-01-02T03:04:05Z\n');
    const machine = await run(['device', 'show', 'dev-000', '--json']);
    expect(JSON.parse(machine.stdout)).toEqual(hangar.devices.get('dev-000'));
  });

  it('patches tags as a merge patch and the status', async () => {
    hangar.addDevices(1);
    const { stdout, exitCode } = await run([
      'device', 'update', 'dev-000', '--tag', 'floor=3', '--untag', 'site', '--status', 'suspended',
    ]);
    expect(exitCode).toBe(0);
    expect(hangar.requests[0]).toMatchObject({ method: 'PATCH', body: { status: 'suspended', tags: { floor: '3', site: null } } });
    expect(stdout).toMatch(/^tags: +floor=3$/m);
  });

  it('refuses an update that changes nothing, and an unknown status', async () => {
    const nothing = await run(['device', 'update', 'dev-000']);
    expect(nothing.exitCode).toBe(1);
    expect(nothing.stderr).toMatch(/^error: nothing to update/);
    const status = await run(['device', 'update', 'dev-000', '--status', 'asleep']);
    expect(status.exitCode).toBe(1);
    expect(status.stderr).toMatch(/^error: option '--status <status>' argument 'asleep' is invalid/);
    expect(hangar.requests).toHaveLength(0);
  });

  it('refuses to delete without --yes when stdin is not a terminal', async () => {
    hangar.addDevices(1);
    const { stdout, stderr, exitCode } = await run(['device', 'delete', 'dev-000']);
    expect(exitCode).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe('error: refusing to delete device "dev-000" without confirmation: pass --yes\n');
    expect(hangar.requests).toHaveLength(0);
    expect(hangar.devices.has('dev-000')).toBe(true);
  });

  it('deletes with --yes', async () => {
    hangar.addDevices(1);
    const { stdout, exitCode } = await run(['device', 'delete', 'dev-000', '--yes']);
    expect(exitCode).toBe(0);
    expect(stdout).toBe('deleted device "dev-000"\n');
    expect(hangar.devices.has('dev-000')).toBe(false);
  });

  it('asks on a terminal and deletes only on yes', async () => {
    hangar.addDevices(2);
    const no = await run(['device', 'delete', 'dev-000'], { stdin: 'n\n', stdinTty: true, stderrTty: true });
    expect(no.exitCode).toBe(1);
    expect(no.stderr).toBe('Delete device "dev-000"? [y/N] error: aborted: device "dev-000" was not deleted\n');
    expect(hangar.devices.has('dev-000')).toBe(true);
    const eof = await run(['device', 'delete', 'dev-000'], { stdin: '', stdinTty: true, stderrTty: true });
    expect(eof.exitCode).toBe(1);
    expect(eof.stderr).toMatch(/error: aborted: device "dev-000" was not deleted\n$/);
    const yes = await run(['device', 'delete', 'dev-001'], { stdin: 'yes\n', stdinTty: true, stderrTty: true });
    expect(yes.exitCode).toBe(0);
    expect(hangar.devices.has('dev-001')).toBe(false);
  });
});

describe('device import', () => {
  async function csvFile(name: string, rows: number, badIds: string[] = []): Promise<string> {
    const path = join(workDir, name);
    const body = ['id,type,tags.site'];
    for (let i = 0; i < rows; i++) body.push(`import-${String(i).padStart(7, '0')},sensor,berlin`);
    for (const id of badIds) body.push(`${id},sensor,berlin`);
    await writeFile(path, `${body.join('\n')}\n`);
    return path;
  }

  it('streams a 5 MB CSV in many chunks and prints the counts', async () => {
    const rows = 180_000; // 29 bytes a row: ~ 5.2 MB
    const file = await csvFile('big.csv', rows);
    const { stdout, stderr, exitCode } = await run(['device', 'import', file]);
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    expect(stdout).toBe(`created: ${rows}  updated: 0  unchanged: 0  failed: 0\n`);
    const stats = hangar.imports[0]!;
    expect(stats.contentType).toBe('text/csv');
    expect(stats.transferEncoding).toBe('chunked');
    expect(stats.bytes).toBeGreaterThan(5_000_000);
    expect(stats.chunks).toBeGreaterThan(10);
  });

  it('sends the first bytes before it has read the end of the file', async () => {
    // A named pipe stands for the file: its second half is written only once the server has
    // received part of the first. A CLI that read the whole file before sending would wait
    // for the end forever, and this test would time out.
    const fifo = join(workDir, 'piped.ndjson');
    execFileSync('mkfifo', [fifo]);
    const line = (i: number): string => `${JSON.stringify({ id: `p-${i}`, type: 'pipe' })}\n`;
    const half = 60_000;
    const writer = (async (): Promise<void> => {
      const out = createWriteStream(fifo);
      const write = async (from: number, to: number): Promise<void> => {
        for (let i = from; i < to; i++) {
          if (!out.write(line(i))) await once(out, 'drain');
        }
      };
      await write(0, half);
      const deadline = Date.now() + 10_000;
      while (hangar.importBytesSoFar < 1_000_000) {
        if (Date.now() > deadline) throw new Error('the server saw no bytes while the file was still open');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await write(half, 2 * half);
      out.end();
      await once(out, 'close');
    })();
    const [{ stdout, exitCode }] = await Promise.all([run(['device', 'import', fifo]), writer]);
    expect(exitCode).toBe(0);
    expect(stdout).toBe(`created: ${2 * half}  updated: 0  unchanged: 0  failed: 0\n`);
    expect(hangar.imports[0]?.contentType).toBe('application/x-ndjson');
    expect(hangar.imports[0]?.chunks).toBeGreaterThan(1);
  }, 30_000);

  it('prints the first 20 row errors and exits 1 when a row failed', async () => {
    const bad = Array.from({ length: 25 }, (_, i) => `bad-${i}`);
    const file = await csvFile('some-bad.csv', 5, bad);
    const { stdout, stderr, exitCode } = await run(['device', 'import', file]);
    expect(exitCode).toBe(1);
    expect(stdout).toBe('created: 5  updated: 0  unchanged: 0  failed: 25\n');
    const errLines = lines(stderr);
    expect(errLines[0]).toMatch(/^LINE\s+ID\s+REASON$/);
    expect(errLines[1]).toMatch(/^7\s+bad-0\s+invalid device id$/);
    expect(errLines).toHaveLength(1 + 20 + 1);
    expect(errLines[21]).toBe('… and 5 more errors (--json shows them all)');
  });

  it('prints every row error with --json', async () => {
    const bad = Array.from({ length: 25 }, (_, i) => `bad-${i}`);
    const file = await csvFile('some-bad-json.csv', 1, bad);
    const { stdout, exitCode } = await run(['device', 'import', file, '--json']);
    expect(exitCode).toBe(1);
    const result = JSON.parse(stdout) as { failed: number; errors: unknown[] };
    expect(result.failed).toBe(25);
    expect(result.errors).toHaveLength(25);
  });

  it('shows a progress bar on a terminal', async () => {
    const file = await csvFile('progress.csv', 50_000);
    const { stdout, stderr, exitCode } = await run(['device', 'import', file], { stderrTty: true });
    expect(exitCode).toBe(0);
    expect(stderr).toContain('importing [');
    expect(stdout).toBe('created: 50000  updated: 0  unchanged: 0  failed: 0\n');
  });

  it('refuses a file that is not .csv, .ndjson or .jsonl, and a missing file', async () => {
    const txt = await run(['device', 'import', join(workDir, 'devices.txt')]);
    expect(txt.exitCode).toBe(1);
    expect(txt.stderr).toMatch(/^error: cannot import ".*devices\.txt": the file name must end in \.csv, \.ndjson or \.jsonl\n$/);
    const missing = await run(['device', 'import', join(workDir, 'missing.jsonl')]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot read ".*missing\.jsonl" \(ENOENT\)\n$/);
    expect(hangar.requests).toHaveLength(0);
  });
});

describe('query', () => {
  it('lists the matching devices', async () => {
    hangar.addDevices(6);
    const { stdout, exitCode } = await run(['query', 'tags.site = "berlin"']);
    expect(exitCode).toBe(0);
    expect(lines(stdout).slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['dev-000', 'dev-002', 'dev-004']);
  });

  it('counts across pages with --count', async () => {
    hangar.addDevices(2500);
    const human = await run(['query', 'tags.site = "paris"', '--count']);
    expect(human.stdout).toBe('1250\n');
    expect(hangar.requests.map((r) => r.query.get('limit'))).toEqual(['1000', '1000']);
    const machine = await run(['query', 'tags.site = "paris"', '--count', '--json']);
    expect(JSON.parse(machine.stdout)).toEqual({ count: 1250 });
  });
});

describe('api-key', () => {
  it('prints the new token once with a warning', async () => {
    const { stdout, stderr, exitCode } = await run(['api-key', 'create', '--name', 'ci', '--role', 'operator']);
    expect(exitCode).toBe(0);
    expect(hangar.requests[0]?.body).toEqual({ name: 'ci', role: 'operator' });
    expect(stdout).toMatch(/^token: +hgr_abcd_secret_token_value$/m);
    expect(stderr).toContain('it will not be shown again');
  });

  it('requires --name and a known --role', async () => {
    const noName = await run(['api-key', 'create', '--role', 'admin']);
    expect(noName.exitCode).toBe(1);
    expect(noName.stderr).toBe("error: required option '--name <name>' not specified\n");
    const badRole = await run(['api-key', 'create', '--name', 'x', '--role', 'root']);
    expect(badRole.exitCode).toBe(1);
    expect(badRole.stderr).toMatch(/Allowed choices are admin, operator, viewer/);
  });

  it('lists keys and revokes one', async () => {
    await run(['api-key', 'create', '--name', 'ci', '--role', 'viewer']);
    const list = await run(['api-key', 'list']);
    expect(lines(list.stdout)[0]).toMatch(/^ID\s+NAME\s+ROLE\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED$/);
    expect(lines(list.stdout)[1]).toMatch(/^k1\s+ci\s+viewer\s+hgr_abcd\s+2025-01-02T03:04:05Z\s+-\s+-$/);
    const revoke = await run(['api-key', 'revoke', 'k1']);
    expect(revoke.stdout).toBe('revoked API key "k1"\n');
    const missing = await run(['api-key', 'revoke', 'k9']);
    expect(missing.stderr).toBe('error: API key "k9" not found (404)\n');
    expect(missing.exitCode).toBe(1);
  });
});

describe('user', () => {
  it('reads the password from stdin with --password-stdin', async () => {
    const { stdout, exitCode } = await run(['user', 'create', 'alice', '--role', 'operator', '--password-stdin'], {
      stdin: 'correct horse battery\n',
    });
    expect(exitCode).toBe(0);
    expect(hangar.requests[0]?.body).toEqual({ username: 'alice', password: 'correct horse battery', role: 'operator' });
    expect(stdout).toMatch(/^username: +alice$/m);
    expect(stdout).not.toContain('correct horse');
  });

  it('prompts without echo on a terminal', async () => {
    const { stderr, exitCode } = await run(['user', 'create', 'bob', '--role', 'viewer'], {
      stdin: 'secret-pw1\rsecret-pw1\r',
      stdinTty: true,
      stderrTty: true,
    });
    expect(exitCode).toBe(0);
    expect(stderr).toBe('Password: \nRepeat password: \n');
    expect(hangar.requests[0]?.body).toMatchObject({ password: 'secret-pw1' });
  });

  it('gives up when the terminal closes before a password was typed', async () => {
    const { stderr, exitCode } = await run(['user', 'create', 'dan', '--role', 'viewer'], {
      stdin: 'half-typed',
      stdinTty: true,
      stderrTty: true,
    });
    expect(exitCode).toBe(1);
    expect(stderr).toBe('Password: \nerror: no password entered\n');
    expect(hangar.requests).toHaveLength(0);
  });

  it('refuses to create a user with no way to read a password', async () => {
    const { stderr, exitCode } = await run(['user', 'create', 'carol', '--role', 'viewer']);
    expect(exitCode).toBe(1);
    expect(stderr).toBe('error: no password: pass --password-stdin or run on a terminal to be prompted\n');
    expect(hangar.requests).toHaveLength(0);
  });

  it('lists and disables users', async () => {
    await run(['user', 'create', 'alice', '--role', 'admin', '--password-stdin'], { stdin: 'long-enough' });
    const list = await run(['user', 'list', '--json']);
    expect((JSON.parse(list.stdout) as { items: Array<{ username: string }> }).items[0]?.username).toBe('alice');
    const disable = await run(['user', 'disable', 'u1']);
    expect(disable.stdout).toBe('disabled user "u1"\n');
    const table = await run(['user', 'list']);
    expect(lines(table.stdout)[1]).toMatch(/^u1\s+alice\s+admin\s+2025-01-02T03:04:05Z\s+2025-01-02T03:04:05Z$/);
    const missing = await run(['user', 'disable', 'u7']);
    expect(missing.stderr).toBe('error: user "u7" not found (404)\n');
  });
});
