import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

/** Counts that must not move when a bad request is refused. */
async function snapshot(t: TestHangar): Promise<{ devices: number; audit: number }> {
  const devices = await t.hangar.stores.devices.count('default');
  const audit = (await t.hangar.stores.audit.list({ tenantId: 'default', limit: 100_000 })).length;
  return { devices, audit };
}

describe.each(STORE_KINDS)('REST API on %s', (kind) => {
  let t: TestHangar;
  let viewer: string;
  let operator: string;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    operator = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'operator', role: 'operator' } })).body.token;
    for (const [id, site, type] of [
      ['sensor-1', 'berlin', 'sensor'],
      ['sensor-2', 'berlin', 'sensor'],
      ['sensor-3', 'paris', 'sensor'],
      ['gw-1', 'berlin', 'gateway'],
    ] as const) {
      const res = await t.call('POST', '/api/v1/devices', { body: { id, type, tags: { site }, attributes: { model: 'X' } } });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('devices', () => {
    it('creates a device and answers it in the DESIGN shape', async () => {
      const res = await t.call('POST', '/api/v1/devices', { body: { id: 'urn:dev:1', tags: { a: 'b' } } });
      expect(res.status).toBe(201);
      expect(res.headers.location).toBe('/api/v1/devices/urn%3Adev%3A1');
      expect(Object.keys(res.body).sort()).toEqual(['attributes', 'createdAt', 'firmwareVersion', 'groups', 'id', 'lastSeen', 'online', 'status', 'tags', 'tenant', 'type', 'updatedAt']);
      expect(res.body).toMatchObject({ id: 'urn:dev:1', tenant: 'default', type: 'generic', status: 'active', tags: { a: 'b' }, online: false, lastSeen: null });
      expect(res.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it('filters by fleet query and pages with cursors', async () => {
      const q = encodeURIComponent('tags.site = "berlin" AND type = "sensor"');
      const res = await t.call('GET', `/api/v1/devices?q=${q}&limit=1`);
      expect(res.status).toBe(200);
      expect(res.body.items.map((d: { id: string }) => d.id)).toEqual(['sensor-1']);
      const next = await t.call('GET', `/api/v1/devices?q=${q}&limit=1&cursor=${res.body.nextCursor}`);
      expect(next.body.items.map((d: { id: string }) => d.id)).toEqual(['sensor-2']);
      expect(next.body.nextCursor).toBeNull();
    });

    it('patches tags and attributes as JSON merge patches', async () => {
      const res = await t.call('PATCH', '/api/v1/devices/sensor-3', { body: { tags: { site: null, floor: '2' }, attributes: { model: null, hw: { rev: 3 } } } });
      expect(res.status).toBe(200);
      expect(res.body.tags).toEqual({ floor: '2' });
      expect(res.body.attributes).toEqual({ hw: { rev: 3 } });
      const found = await t.call('GET', `/api/v1/devices?q=${encodeURIComponent('tags.floor = "2"')}`);
      expect(found.body.items.map((d: { id: string }) => d.id)).toEqual(['sensor-3']);
    });

    it('deletes a device', async () => {
      await t.call('POST', '/api/v1/devices', { body: { id: 'to-delete' } });
      expect((await t.call('DELETE', '/api/v1/devices/to-delete')).status).toBe(204);
      expect((await t.call('GET', '/api/v1/devices/to-delete')).status).toBe(404);
    });
  });

  describe('bad input changes nothing', () => {
    const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, RegExp]> = [
      ['invalid JSON', () => t.call('POST', '/api/v1/devices', { payload: '{"id":', headers: { 'content-type': 'application/json' } }), 400, /JSON/],
      ['an empty JSON body where one is needed', () => t.call('POST', '/api/v1/devices', { payload: '', headers: { 'content-type': 'application/json' } }), 400, /body/],
      ['a wrong type', () => t.call('POST', '/api/v1/devices', { body: { id: 'x1', tags: { a: 1 } } }), 400, /tags/],
      ['a number where a string goes', () => t.call('POST', '/api/v1/devices', { body: { id: 42 } }), 400, /id/],
      ['an unknown field', () => t.call('POST', '/api/v1/devices', { body: { id: 'x2', colour: 'red' } }), 400, /unknown field "colour"/],
      ['a missing field', () => t.call('POST', '/api/v1/devices', { body: { type: 'x' } }), 400, /missing field "id"/],
      ['an invalid device id', () => t.call('POST', '/api/v1/devices', { body: { id: 'bad/id' } }), 400, /id/],
      ['an over-long device id', () => t.call('POST', '/api/v1/devices', { body: { id: 'x'.repeat(129) } }), 400, /id/],
      ['a duplicate device id', () => t.call('POST', '/api/v1/devices', { body: { id: 'sensor-1' } }), 409, /already taken/],
      ['a body over 1 MiB', () => t.call('POST', '/api/v1/devices', { payload: JSON.stringify({ id: 'big', attributes: { blob: 'x'.repeat(1_100_000) } }), headers: { 'content-type': 'application/json' } }), 413, /1 MiB/],
      ['an unknown device (get)', () => t.call('GET', '/api/v1/devices/nope'), 404, /nope/],
      ['an unknown device (patch)', () => t.call('PATCH', '/api/v1/devices/nope', { body: { type: 'x' } }), 404, /nope/],
      ['an unknown device (delete)', () => t.call('DELETE', '/api/v1/devices/nope'), 404, /nope/],
      ['an empty patch', () => t.call('PATCH', '/api/v1/devices/sensor-1', { body: {} }), 400, /must NOT have fewer than 1 properties/],
      ['a status that only decommissioning sets', () => t.call('PATCH', '/api/v1/devices/sensor-1', { body: { status: 'decommissioned' } }), 400, /status/],
      ['a bad cursor', () => t.call('GET', '/api/v1/devices?cursor=garbage'), 400, /cursor/],
      ['a limit out of range', () => t.call('GET', '/api/v1/devices?limit=5000'), 400, /limit/],
      ['an unknown query parameter', () => t.call('GET', '/api/v1/devices?colour=red'), 400, /colour/],
      ['no credentials', () => t.call('GET', '/api/v1/devices', { token: null }), 401, /Bearer/],
      ['an unknown key', () => t.call('GET', '/api/v1/devices', { token: 'hk_nope' }), 401, /unknown or revoked/],
      ['a malformed Authorization header', () => t.call('GET', '/api/v1/devices', { token: null, headers: { authorization: 'Basic abc' } }), 401, /Bearer/],
      ['a viewer creating a device', () => t.call('POST', '/api/v1/devices', { body: { id: 'v1' }, token: viewer }), 403, /operator/],
      ['a viewer deleting a device', () => t.call('DELETE', '/api/v1/devices/sensor-1', { token: viewer }), 403, /operator/],
      ['an operator creating an API key', () => t.call('POST', '/api/v1/api-keys', { body: { name: 'x', role: 'admin' }, token: operator }), 403, /admin/],
      ['an operator reading the audit log', () => t.call('GET', '/api/v1/audit', { token: operator }), 403, /admin/],
      ['an unknown route', () => t.call('GET', '/api/v1/nothing-here'), 404, /no route/],
      ['an import with the wrong content type', () => t.call('POST', '/api/v1/devices/import', { payload: 'id\na', headers: { 'content-type': 'text/plain' } }), 415, /text\/csv/],
    ];

    it.each(cases)('refuses %s with a problem document', async (_name, send, status, detail) => {
      const before = await snapshot(t);
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.stringMatching(detail) });
      expect(await snapshot(t)).toEqual(before);
    });

    it('refuses a bad fleet query with the position of the fault', async () => {
      const before = await snapshot(t);
      const res = await t.call('GET', `/api/v1/devices?q=${encodeURIComponent('tags.site = "berlin" AND colour = "red"')}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).toMatchObject({ code: 'INVALID_QUERY', position: 25 });
      expect(res.body.detail).toMatch(/colour/);
      expect(await snapshot(t)).toEqual(before);
    });

    it('lets a viewer read', async () => {
      const res = await t.call('GET', '/api/v1/devices/sensor-1', { token: viewer });
      expect(res.status).toBe(200);
    });
  });

  describe('bulk import', () => {
    const ndjson = (lines: string[]): string => lines.join('\n') + '\n';

    it('stores good NDJSON rows, reports bad ones by line, and is safe to re-run', async () => {
      const body = ndjson([
        '{"id":"imp-1","type":"meter","tags":{"site":"oslo"}}',
        '{"id":"imp-2","attributes":{"n":2}}',
        'not json',
        '{"id":"bad id"}',
        '',
        '{"id":"imp-1","type":"other"}',
        '{"id":"sensor-1","tags":{"site":"berlin"}}',
        '{"id":"imp-3","extra":1}',
        '[1,2]',
      ]);
      const headers = { 'content-type': 'application/x-ndjson' };
      const first = await t.call('POST', '/api/v1/devices/import', { payload: body, headers });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ created: 2, updated: 0, unchanged: 1, failed: 5, errorsTruncated: false });
      expect(first.body.errors.map((e: { line: number }) => e.line)).toEqual([3, 4, 6, 8, 9]);
      expect(first.body.errors[0].reason).toMatch(/invalid JSON/);
      expect(first.body.errors[2].reason).toMatch(/duplicate id in this file \(first on line 1\)/);
      const again = await t.call('POST', '/api/v1/devices/import', { payload: body, headers });
      expect(again.body).toMatchObject({ created: 0, updated: 0, unchanged: 3, failed: 5 });
      expect((await t.call('GET', '/api/v1/devices/imp-1')).body).toMatchObject({ type: 'meter', tags: { site: 'oslo' } });
    });

    it('imports CSV with tag and attribute columns and updates changed rows on re-run', async () => {
      const headers = { 'content-type': 'text/csv' };
      const csv = 'id,type,tags.site,attributes.rev\ncsv-1,meter,rome,3\ncsv-2,,rome,"{""a"":1}"\n';
      const first = await t.call('POST', '/api/v1/devices/import', { payload: csv, headers });
      expect(first.body).toMatchObject({ created: 2, failed: 0 });
      expect((await t.call('GET', '/api/v1/devices/csv-2')).body).toMatchObject({ type: 'generic', tags: { site: 'rome' }, attributes: { rev: { a: 1 } } });
      const changed = await t.call('POST', '/api/v1/devices/import', { payload: csv.replace('csv-1,meter,rome', 'csv-1,meter,milan'), headers });
      expect(changed.body).toMatchObject({ created: 0, updated: 1, unchanged: 1 });
    });

    it('reports a CSV row with a wrong column count and goes on', async () => {
      const res = await t.call('POST', '/api/v1/devices/import', { payload: 'id,type\ncc-1,a\ncc-2,a,extra\ncc-3,b\n', headers: { 'content-type': 'text/csv' } });
      expect(res.body).toMatchObject({ created: 2, failed: 1 });
      expect(res.body.errors).toEqual([{ line: 3, reason: 'wrong number of columns for the header' }]);
    });

    it('stops at broken CSV quoting, keeping the rows before it', async () => {
      const res = await t.call('POST', '/api/v1/devices/import', { payload: 'id,type\nq-1,a\n"q-2,b\nq-3,c\n', headers: { 'content-type': 'text/csv' } });
      expect(res.body.created).toBe(1);
      expect(res.body.errors.at(-1).reason).toMatch(/never closed/);
      expect((await t.call('GET', '/api/v1/devices/q-3')).status).toBe(404);
    });

    it('refuses a CSV without an id column or with an unknown column', async () => {
      for (const header of ['type,tags.site', 'id,colour']) {
        const res = await t.call('POST', '/api/v1/devices/import', { payload: `${header}\na,b\n`, headers: { 'content-type': 'text/csv' } });
        expect(res.body).toMatchObject({ created: 0, failed: 1 });
        expect(res.body.errors[0]).toMatchObject({ line: 1 });
      }
    });

    it('refuses a viewer', async () => {
      const res = await t.call('POST', '/api/v1/devices/import', { payload: '{"id":"vv"}\n', headers: { 'content-type': 'application/x-ndjson' }, token: viewer });
      expect(res.status).toBe(403);
    });
  });

  describe('groups', () => {
    it('keeps static members and evaluates dynamic groups by query', async () => {
      expect((await t.call('POST', '/api/v1/groups', { body: { id: 'pilot', kind: 'static', description: 'first wave' } })).status).toBe(201);
      expect((await t.call('POST', '/api/v1/groups/pilot/devices', { body: { deviceIds: ['sensor-1', 'gw-1'] } })).body).toEqual({ added: 2 });
      expect((await t.call('POST', '/api/v1/groups', { body: { id: 'berlin', kind: 'dynamic', query: 'tags.site = "berlin"' } })).body.deviceCount).toBe(3);
      const members = await t.call('GET', '/api/v1/groups/pilot/devices');
      expect(members.body.items.map((d: { id: string }) => d.id)).toEqual(['gw-1', 'sensor-1']);
      const device = await t.call('GET', '/api/v1/devices/sensor-1');
      expect(device.body.groups).toEqual(['berlin', 'pilot']);
      expect((await t.call('DELETE', '/api/v1/groups/pilot/devices/gw-1')).status).toBe(204);
      expect((await t.call('GET', '/api/v1/groups/pilot')).body.deviceCount).toBe(1);
      // Lists count only when asked: a dynamic group's count runs its query over the fleet.
      const plain = await t.call('GET', '/api/v1/groups');
      expect(plain.body.items.every((g: { deviceCount?: number }) => g.deviceCount === undefined)).toBe(true);
      const counted = await t.call('GET', '/api/v1/groups?counts=true');
      expect(counted.body.items.map((g: { id: string; deviceCount: number }) => [g.id, g.deviceCount])).toEqual([['berlin', 3], ['pilot', 1]]);
    });

    it('refuses a dynamic group with a bad query, a duplicate id, and members of a dynamic group', async () => {
      const bad = await t.call('POST', '/api/v1/groups', { body: { id: 'broken', kind: 'dynamic', query: 'tags.site = ' } });
      expect(bad.status).toBe(400);
      expect(bad.body.position).toBe(12);
      expect((await t.call('POST', '/api/v1/groups', { body: { id: 'pilot', kind: 'static' } })).status).toBe(409);
      expect((await t.call('POST', '/api/v1/groups/berlin/devices', { body: { deviceIds: ['gw-1'] } })).status).toBe(400);
      expect((await t.call('POST', '/api/v1/groups/pilot/devices', { body: { deviceIds: ['ghost'] } })).status).toBe(404);
      expect((await t.call('GET', '/api/v1/groups/broken')).status).toBe(404);
    });
  });

  describe('access', () => {
    it('signs a user in with a password, keeps the session in a cookie, and signs out', async () => {
      expect((await t.call('POST', '/api/v1/users', { body: { username: 'ada', password: 'lovelace-1815', role: 'operator' } })).status).toBe(201);
      const wrong = await t.call('POST', '/api/v1/auth/login', { body: { username: 'ada', password: 'nope-nope' }, token: null });
      expect(wrong.status).toBe(401);
      const login = await t.call('POST', '/api/v1/auth/login', { body: { username: 'ada', password: 'lovelace-1815' }, token: null });
      expect(login.status).toBe(200);
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      expect(String(login.headers['set-cookie'])).toMatch(/HttpOnly/i);
      expect(String(login.headers['set-cookie'])).toMatch(/SameSite=Strict/i);
      const me = await t.call('GET', '/api/v1/auth/me', { token: null, headers: { cookie } });
      expect(me.body).toMatchObject({ name: 'ada', role: 'operator', type: 'user', tenant: 'default' });
      expect((await t.call('POST', '/api/v1/devices', { body: { id: 'by-ada' }, token: null, headers: { cookie } })).status).toBe(201);
      expect((await t.call('POST', '/api/v1/api-keys', { body: { name: 'x', role: 'viewer' }, token: null, headers: { cookie } })).status).toBe(403);
      expect((await t.call('POST', '/api/v1/auth/logout', { token: null, headers: { cookie } })).status).toBe(204);
      expect((await t.call('GET', '/api/v1/auth/me', { token: null, headers: { cookie } })).status).toBe(401);
    });

    it('signs in with an API key too, and a revoked key stops working at once', async () => {
      const key = await t.call('POST', '/api/v1/api-keys', { body: { name: 'temp', role: 'viewer' } });
      expect(key.body.token).toMatch(/^hk_/);
      const login = await t.call('POST', '/api/v1/auth/login', { body: { apiKey: key.body.token }, token: null });
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      expect((await t.call('GET', '/api/v1/auth/me', { token: null, headers: { cookie } })).body.role).toBe('viewer');
      expect((await t.call('DELETE', `/api/v1/api-keys/${key.body.id}`)).status).toBe(204);
      expect((await t.call('GET', '/api/v1/devices', { token: key.body.token })).status).toBe(401);
      expect((await t.call('GET', '/api/v1/auth/me', { token: null, headers: { cookie } })).status).toBe(401);
      expect((await t.call('DELETE', `/api/v1/api-keys/${key.body.id}`)).status).toBe(409);
      const listed = await t.call('GET', '/api/v1/api-keys');
      const entry = listed.body.items.find((k: { id: string }) => k.id === key.body.id);
      expect(entry.revokedAt).not.toBeNull();
      expect(JSON.stringify(listed.body)).not.toContain(key.body.token);
    });

    it('disables a user, ending their sessions', async () => {
      const user = await t.call('POST', '/api/v1/users', { body: { username: 'bob', password: 'builder-123', role: 'viewer' } });
      const login = await t.call('POST', '/api/v1/auth/login', { body: { username: 'bob', password: 'builder-123' }, token: null });
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      expect((await t.call('DELETE', `/api/v1/users/${user.body.id}`)).status).toBe(204);
      expect((await t.call('GET', '/api/v1/auth/me', { token: null, headers: { cookie } })).status).toBe(401);
      expect((await t.call('POST', '/api/v1/auth/login', { body: { username: 'bob', password: 'builder-123' }, token: null })).status).toBe(401);
      expect((await t.call('POST', '/api/v1/users', { body: { username: 'bob', password: 'builder-123', role: 'viewer' } })).status).toBe(409);
      expect((await t.call('POST', '/api/v1/users', { body: { username: 'short', password: 'x', role: 'viewer' } })).status).toBe(400);
    });

    it('isolates tenants: a new tenant sees none of the default tenant’s devices', async () => {
      const created = await t.call('POST', '/api/v1/tenants', { body: { id: 'acme', name: 'Acme' } });
      expect(created.status).toBe(201);
      const acme = created.body.adminApiKey.token as string;
      expect((await t.call('GET', '/api/v1/devices', { token: acme })).body.items).toEqual([]);
      expect((await t.call('GET', '/api/v1/devices/sensor-1', { token: acme })).status).toBe(404);
      // Ids are unique in the installation, so another tenant cannot take one.
      expect((await t.call('POST', '/api/v1/devices', { body: { id: 'sensor-1' }, token: acme })).status).toBe(409);
      expect((await t.call('POST', '/api/v1/tenants', { body: { id: 'other', name: 'O' }, token: acme })).status).toBe(403);
      expect((await t.call('POST', '/api/v1/tenants', { body: { id: 'acme', name: 'Again' } })).status).toBe(409);
      expect((await t.call('POST', '/api/v1/tenants', { body: { id: 'Bad Id', name: 'x' } })).status).toBe(400);
      const audit = await t.call('GET', '/api/v1/audit', { token: acme });
      expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(['api_key.create']);
    });

    it('records every mutation in the audit log with who, what and when', async () => {
      const res = await t.call('GET', '/api/v1/audit?targetId=sensor-3');
      expect(res.status).toBe(200);
      const [update, create] = res.body.items;
      expect(update).toMatchObject({ action: 'device.update', target: { type: 'device', id: 'sensor-3' }, actor: { type: 'api_key', name: 'bootstrap admin' } });
      expect(update.summary.before.tags).toEqual({ site: 'paris' });
      expect(update.summary.after.tags).toEqual({ floor: '2' });
      expect(create.action).toBe('device.create');
      const page = await t.call('GET', '/api/v1/audit?limit=2');
      const next = await t.call('GET', `/api/v1/audit?limit=2&cursor=${page.body.nextCursor}`);
      expect(next.body.items[0].id).toBeLessThan(page.body.items[1].id);
    });
  });

  describe('sign-in throttling (runs last: it blocks this source)', () => {
    it('refuses further sign-ins from a source after repeated failures, with Retry-After', async () => {
      let last = { status: 0, body: {} as any, headers: {} as Record<string, unknown> };
      for (let i = 0; i < 12 && last.status !== 429; i++) {
        last = await t.call('POST', '/api/v1/auth/login', { body: { username: `guess-${i}`, password: 'wrong-password' }, token: null });
      }
      expect(last.status).toBe(429);
      expect(last.body.detail).toMatch(/too many failed sign-ins/);
      expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
      // Even the right password is refused while the source is throttled.
      const right = await t.call('POST', '/api/v1/auth/login', { body: { username: 'ada', password: 'lovelace-1815' }, token: null });
      expect(right.status).toBe(429);
    });
  });

  describe('operations', () => {
    it('serves OpenAPI, the API browser, health, readiness and Prometheus metrics', async () => {
      const openapi = await t.call('GET', '/api/v1/openapi.json', { token: null });
      expect(openapi.status).toBe(200);
      expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/api/v1/devices', '/api/v1/devices/{id}', '/api/v1/devices/import', '/api/v1/groups', '/api/v1/api-keys', '/api/v1/audit']));
      expect((await t.call('GET', '/docs', { token: null })).status).toBeLessThan(400);
      expect((await t.call('GET', '/healthz', { token: null })).body).toEqual({ status: 'ok' });
      expect((await t.call('GET', '/readyz', { token: null })).body).toEqual({ status: 'ready' });
      const metrics = await t.call('GET', '/metrics');
      expect(metrics.body).toContain('hangar_http_requests_total{method="GET",route="/api/v1/devices",status="200"}');
      expect(metrics.body).toContain('hangar_store_query_duration_seconds_bucket');
    });
  });
});
