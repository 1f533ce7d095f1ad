import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

describe.each(STORE_KINDS)('configurations on %s', (kind) => {
  let h: TestHangar;
  let viewer: string;

  beforeAll(async () => {
    h = await startTestHangar(kind);
    viewer = (await h.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
  });
  afterAll(async () => {
    await h.close();
  });

  const settle = (): Promise<void> => h.hangar.configurationReconciler.idle();
  const device = async (id: string, tags: Record<string, string>): Promise<void> => {
    expect((await h.call('POST', '/api/v1/devices', { body: { id, tags } })).status).toBe(201);
  };
  const desired = async (id: string): Promise<Record<string, unknown>> => {
    const { $version: _v, $metadata: _m, ...props } = (await h.call('GET', `/api/v1/devices/${id}/twin`)).body.desired;
    return props;
  };
  const create = async (body: Record<string, unknown>): Promise<{ id: string; [k: string]: unknown }> => {
    const res = await h.call('POST', '/api/v1/configurations', { body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };

  it('writes its content to devices that match now and to devices created later, as the configuration', async () => {
    await device('cf-a1', { fleet: 'a', site: 'berlin' });
    await device('cf-a2', { fleet: 'a', site: 'paris' });
    const c = await create({ name: 'berlin interval', target: 'tags.fleet = "a" AND tags.site = "berlin"', content: { desired: { interval: 30, net: { mode: 'lte' } } }, priority: 1, labels: { team: 'ops' } });
    expect(c).toMatchObject({ name: 'berlin interval', priority: 1, labels: { team: 'ops' }, content: { desired: { interval: 30, net: { mode: 'lte' } } } });
    await settle();
    expect(await desired('cf-a1')).toEqual({ interval: 30, net: { mode: 'lte' } });
    expect(await desired('cf-a2')).toEqual({});

    await device('cf-a3', { fleet: 'a', site: 'berlin' });
    await settle();
    expect(await desired('cf-a3')).toEqual({ interval: 30, net: { mode: 'lte' } });

    const audit = await h.call('GET', '/api/v1/audit?targetId=cf-a3');
    const write = audit.body.items.find((e: any) => e.action === 'twin.desired.update');
    expect(write.actor).toEqual({ type: 'system', id: `configuration:${c.id}`, name: 'configuration berlin interval' });
    const own = await h.call('GET', `/api/v1/audit?targetId=${c.id}`);
    expect(own.body.items.map((e: any) => e.action)).toEqual(['configuration.create']);

    const got = await h.call('GET', `/api/v1/configurations/${c.id}`, { token: viewer });
    expect(got.status).toBe(200);
    expect(got.body.metrics).toEqual({ targeted: 2, applied: 0, pending: 2, conflicting: 0 });
    expect((await h.call('GET', '/api/v1/configurations', { token: viewer })).body.items.map((x: any) => x.id)).toContain(c.id);
  });

  it('follows tag changes: a device brought in gets the content, one taken out loses it unless an operator changed it', async () => {
    await device('cf-b1', { fleet: 'b' });
    await device('cf-b2', { fleet: 'b', ring: 'canary' });
    await create({ name: 'canary', target: 'tags.ring = "canary"', content: { desired: { channel: 'beta', keep: { me: 1 } } } });
    await settle();
    expect(await desired('cf-b1')).toEqual({});
    expect(await desired('cf-b2')).toEqual({ channel: 'beta', keep: { me: 1 } });

    expect((await h.call('PATCH', '/api/v1/devices/cf-b1', { body: { tags: { ring: 'canary' } } })).status).toBe(200);
    await settle();
    expect(await desired('cf-b1')).toEqual({ channel: 'beta', keep: { me: 1 } });

    // An operator overrides one property on cf-b2 and adds one of their own.
    await h.call('PATCH', '/api/v1/devices/cf-b2/twin', { body: { desired: { channel: 'stable', mine: true } } });
    for (const id of ['cf-b1', 'cf-b2']) expect((await h.call('PATCH', `/api/v1/devices/${id}`, { body: { tags: { ring: null } } })).status).toBe(200);
    await settle();
    expect(await desired('cf-b1')).toEqual({});
    expect(await desired('cf-b2')).toEqual({ channel: 'stable', mine: true });
  });

  it('settles a property two configurations set by priority, then by id, and re-evaluates on a priority change', async () => {
    await device('cf-c1', { fleet: 'c' });
    const low = await create({ name: 'c low', target: 'tags.fleet = "c"', content: { desired: { mode: 'eco', led: 'off' } }, priority: 1 });
    const high = await create({ name: 'c high', target: 'tags.fleet = "c"', content: { desired: { mode: 'turbo' } }, priority: 5 });
    await settle();
    expect(await desired('cf-c1')).toEqual({ mode: 'turbo', led: 'off' });
    expect((await h.call('GET', `/api/v1/configurations/${low.id}`)).body.metrics).toMatchObject({ targeted: 1, conflicting: 1 });
    expect((await h.call('GET', `/api/v1/configurations/${low.id}/devices?status=conflicting`)).body.items.map((d: any) => d.deviceId)).toEqual(['cf-c1']);
    expect((await h.call('GET', `/api/v1/configurations/${high.id}/devices?status=conflicting`)).body.items).toEqual([]);

    const patched = await h.call('PATCH', `/api/v1/configurations/${low.id}`, { body: { priority: 9 } });
    expect(patched.status).toBe(200);
    expect(patched.body.priority).toBe(9);
    await settle();
    expect(await desired('cf-c1')).toEqual({ mode: 'eco', led: 'off' });

    // Equal priorities: the lower id wins, whatever the order of creation.
    await device('cf-t1', { fleet: 't' });
    const x = await create({ name: 'tie x', target: 'tags.fleet = "t"', content: { desired: { tie: 'x' } }, priority: 3 });
    const y = await create({ name: 'tie y', target: 'tags.fleet = "t"', content: { desired: { tie: 'y' } }, priority: 3 });
    await settle();
    const winner = x.id < y.id ? 'x' : 'y';
    expect(await desired('cf-t1')).toEqual({ tie: winner });
    const loser = winner === 'x' ? y : x;
    expect((await h.call('GET', `/api/v1/configurations/${loser.id}`)).body.metrics.conflicting).toBe(1);

    // Deleting the winner hands the property to the other, which writes its value.
    expect((await h.call('DELETE', `/api/v1/configurations/${winner === 'x' ? x.id : y.id}`)).status).toBe(204);
    await settle();
    expect(await desired('cf-t1')).toEqual({ tie: winner === 'x' ? 'y' : 'x' });
    expect((await h.call('GET', `/api/v1/configurations/${loser.id}`)).body.metrics.conflicting).toBe(0);
  });

  it('counts a device applied once its reported twin matches the content, over the HTTP device API too', async () => {
    await device('cf-d1', { fleet: 'd' });
    await device('cf-d2', { fleet: 'd' });
    const c = await create({ name: 'd', target: 'tags.fleet = "d"', content: { desired: { interval: 15, net: { mode: 'nb' } } } });
    await settle();
    await h.hangar.services.twins.patchReported('default', 'cf-d1', { interval: 15, net: { mode: 'nb', rssi: -80 } });
    await h.hangar.services.twins.patchReported('default', 'cf-d2', { interval: 15 });
    await settle();
    const got = await h.call('GET', `/api/v1/configurations/${c.id}`);
    expect(got.body.metrics).toEqual({ targeted: 2, applied: 1, pending: 1, conflicting: 0 });
    expect((await h.call('GET', `/api/v1/configurations/${c.id}/devices?status=applied`)).body.items.map((d: any) => d.deviceId)).toEqual(['cf-d1']);
    expect((await h.call('GET', `/api/v1/configurations/${c.id}/devices?status=pending`)).body.items.map((d: any) => d.deviceId)).toEqual(['cf-d2']);
    const all = await h.call('GET', `/api/v1/configurations/${c.id}/devices?limit=1`);
    expect(all.body.items).toHaveLength(1);
    expect(all.body.nextCursor).not.toBeNull();
  });

  it('removes what a deleted configuration set, and the configuration is gone', async () => {
    await device('cf-e1', { fleet: 'e' });
    const c = await create({ name: 'e', target: 'tags.fleet = "e"', content: { desired: { gone: true } } });
    await settle();
    expect(await desired('cf-e1')).toEqual({ gone: true });
    expect((await h.call('DELETE', `/api/v1/configurations/${c.id}`)).status).toBe(204);
    expect((await h.call('GET', `/api/v1/configurations/${c.id}`)).status).toBe(404);
    // The name is free at once.
    await create({ name: 'e', target: 'tags.fleet = "none"', content: { desired: { other: 1 } } });
    await settle();
    expect(await desired('cf-e1')).toEqual({});
    expect((await h.call('GET', `/api/v1/audit?targetId=${c.id}`)).body.items.map((e: any) => e.action)).toEqual(['configuration.delete', 'configuration.create']);
  });

  it('re-evaluates on a target change: devices it no longer selects lose the content, new ones get it', async () => {
    await device('cf-g1', { fleet: 'g', zone: '1' });
    await device('cf-g2', { fleet: 'g', zone: '2' });
    const c = await create({ name: 'g', target: 'tags.fleet = "g" AND tags.zone = "1"', content: { desired: { zone: 'one' } } });
    await settle();
    expect([await desired('cf-g1'), await desired('cf-g2')]).toEqual([{ zone: 'one' }, {}]);
    expect((await h.call('PATCH', `/api/v1/configurations/${c.id}`, { body: { target: 'tags.fleet = "g" AND tags.zone = "2"' } })).status).toBe(200);
    await settle();
    expect([await desired('cf-g1'), await desired('cf-g2')]).toEqual([{}, { zone: 'one' }]);
    expect((await h.call('GET', `/api/v1/configurations/${c.id}/devices`)).body.items.map((d: any) => d.deviceId)).toEqual(['cf-g2']);
    expect((await h.call('GET', `/api/v1/audit?targetId=${c.id}`)).body.items[0]).toMatchObject({ action: 'configuration.update', summary: { before: { target: 'tags.fleet = "g" AND tags.zone = "1"' }, after: { target: 'tags.fleet = "g" AND tags.zone = "2"' } } });
  });

  it('applies to imported devices: new ones at once, updated ones at the next sweep', async () => {
    await device('cf-i1', { fleet: 'i-old' });
    await create({ name: 'i', target: 'tags.fleet = "i"', content: { desired: { imported: true } } });
    await settle();
    const payload = ['{"id":"cf-i2","tags":{"fleet":"i"}}', '{"id":"cf-i1","tags":{"fleet":"i"}}'].join('\n') + '\n';
    const res = await h.call('POST', '/api/v1/devices/import', { payload, headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.body).toMatchObject({ created: 1, updated: 1 });
    await settle();
    expect(await desired('cf-i2')).toEqual({ imported: true });
    // An import's update publishes no event: the periodic full pass finds it.
    await h.hangar.configurationReconciler.sweep();
    expect(await desired('cf-i1')).toEqual({ imported: true });
  });

  it('follows a target on reported twin fields as devices report', async () => {
    await device('cf-r1', { fleet: 'r' });
    await create({ name: 'r', target: 'tags.fleet = "r" AND twin.reported.fw = "2.0"', content: { desired: { feature: 'on' } } });
    await settle();
    expect(await desired('cf-r1')).toEqual({});
    await h.hangar.services.twins.patchReported('default', 'cf-r1', { fw: '2.0' });
    await settle();
    expect(await desired('cf-r1')).toEqual({ feature: 'on' });
  });

  it('finishes after a restart what a stopped reconciler left undone', async () => {
    await device('cf-s1', { fleet: 's' });
    const { ConfigurationReconciler } = await import('../core/configurations/reconciler.js');
    const first = h.hangar.configurationReconciler;
    await first.stop();
    try {
      await create({ name: 's', target: 'tags.fleet = "s"', content: { desired: { resumed: 1 } } });
      await new Promise((r) => setTimeout(r, 20));
      expect(await desired('cf-s1')).toEqual({});
      // A new process: its reconciler starts with a full pass over every tenant.
      const next = new ConfigurationReconciler(h.hangar.stores, h.hangar.bus, h.hangar.services.twins, h.hangar.logger, Date.now, { sweepIntervalMs: 0 });
      await next.start();
      await next.idle();
      await next.stop();
      expect(await desired('cf-s1')).toEqual({ resumed: 1 });
    } finally {
      // Later tests settle through the first one.
      await first.start();
    }
  });

  it('leaves a device whose desired would outgrow the twin limit as it is, and counts it as pending', async () => {
    await device('cf-l1', { fleet: 'l' });
    await h.call('PATCH', '/api/v1/devices/cf-l1/twin', { body: { desired: { mine: 'm'.repeat(20_000) } } });
    const c = await create({ name: 'l', target: 'tags.fleet = "l"', content: { desired: { theirs: 't'.repeat(20_000) } } });
    await settle();
    expect(Object.keys(await desired('cf-l1'))).toEqual(['mine']);
    expect((await h.call('GET', `/api/v1/configurations/${c.id}`)).body.metrics).toEqual({ targeted: 1, applied: 0, pending: 1, conflicting: 0 });
    // Once the operator makes room, the next pass writes it.
    await h.call('PATCH', '/api/v1/devices/cf-l1/twin', { body: { desired: { mine: null } } });
    await h.hangar.configurationReconciler.sweep();
    expect(Object.keys(await desired('cf-l1'))).toEqual(['theirs']);
  });

  it('applies to a fleet larger than one batch, every device once', async () => {
    const n = 450;
    const payload = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `cf-m${String(i).padStart(3, '0')}`, tags: { fleet: 'm' } })).join('\n') + '\n';
    expect((await h.call('POST', '/api/v1/devices/import', { payload, headers: { 'content-type': 'application/x-ndjson' } })).body.created).toBe(n);
    await settle();
    const c = await create({ name: 'm', target: 'tags.fleet = "m"', content: { desired: { batch: true } } });
    await settle();
    expect((await h.call('GET', `/api/v1/configurations/${c.id}`)).body.metrics).toEqual({ targeted: n, applied: 0, pending: n, conflicting: 0 });
    for (const id of ['cf-m000', 'cf-m199', 'cf-m200', 'cf-m449']) expect(await desired(id)).toEqual({ batch: true });
    // A second full pass finds nothing to write: each desired twin was written once.
    await h.hangar.configurationReconciler.sweep();
    const twin = await h.call('GET', '/api/v1/devices/cf-m321/twin');
    expect(twin.body.desired.$version).toBe(1);
  });

  describe('refuses bad input and changes nothing', () => {
    let existing: string;
    beforeAll(async () => {
      existing = (await create({ name: 'bad-input base', target: 'tags.fleet = "z"', content: { desired: { a: 1 } } })).id;
    });
    const count = async (): Promise<number> => (await h.call('GET', '/api/v1/configurations?limit=1000')).body.items.length;

    it.each([
      ['an unparsable target', { target: 'tags.fleet = = "x"' }, 400, 'target is not a valid fleet query'],
      ['content that is not an object', { content: [1, 2] }, 400, 'content must be an object'],
      ['desired that is not an object', { content: { desired: 'x' } }, 400, 'content.desired must be a JSON object'],
      ['content with other members', { content: { desired: { a: 1 }, reported: {} } }, 400, 'may only hold "desired"'],
      ['a $ name', { content: { desired: { a: { $b: 1 } } } }, 400, '/a/$b starts with "$"'],
      ['a null value', { content: { desired: { a: null } } }, 400, 'cannot delete'],
      ['oversize content', { content: { desired: { big: 'x'.repeat(40_000) } } }, 413, 'at most 32768 bytes'],
      ['a fractional priority', { priority: 1.5 }, 400, 'priority'],
      ['a duplicate name', { name: 'bad-input base' }, 409, 'already exists'],
    ])('%s', async (_what, override, status, message) => {
      const before = await count();
      const res = await h.call('POST', '/api/v1/configurations', { body: { name: 'bad', target: '', content: { desired: { a: 1 } }, ...override } });
      expect(res.status).toBe(status);
      expect(res.body.detail).toContain(message);
      expect(await count()).toBe(before);
    });

    it('lets one of two concurrent creates of a name through', async () => {
      const body = { name: 'raced', target: 'tags.fleet = "none"', content: { desired: { a: 1 } } };
      const answers = await Promise.all([1, 2, 3].map(() => h.call('POST', '/api/v1/configurations', { body })));
      expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409]);
      await h.call('DELETE', `/api/v1/configurations/${answers.find((a) => a.status === 201)!.body.id}`);
    });

    it('answers the parser’s message for a bad target, also on PATCH', async () => {
      const res = await h.call('POST', '/api/v1/configurations', { body: { name: 'q', target: 'colour = "red"', content: { desired: { a: 1 } } } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.detail).toMatch(/target is not a valid fleet query: .*colour/);
      const patch = await h.call('PATCH', `/api/v1/configurations/${existing}`, { body: { target: 'tags.x ==' } });
      expect(patch.status).toBe(400);
      expect((await h.call('GET', `/api/v1/configurations/${existing}`)).body.target).toBe('tags.fleet = "z"');
    });

    it('refuses a content change in PATCH, saying to create a new configuration', async () => {
      const res = await h.call('PATCH', `/api/v1/configurations/${existing}`, { body: { content: { desired: { a: 2 } }, priority: 4 } });
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain('create a new configuration');
      const got = await h.call('GET', `/api/v1/configurations/${existing}`);
      expect(got.body).toMatchObject({ priority: 0, content: { desired: { a: 1 } } });
    });

    it('answers 404 for an unknown id', async () => {
      for (const [method, url, body] of [
        ['GET', '/api/v1/configurations/nope', undefined],
        ['PATCH', '/api/v1/configurations/nope', { priority: 1 }],
        ['DELETE', '/api/v1/configurations/nope', undefined],
        ['GET', '/api/v1/configurations/nope/devices', undefined],
      ] as const) {
        const res = await h.call(method, url, body === undefined ? {} : { body });
        expect(res.status, `${method} ${url}`).toBe(404);
      }
    });

    it('refuses an unknown status filter', async () => {
      const res = await h.call('GET', `/api/v1/configurations/${existing}/devices?status=done`);
      expect(res.status).toBe(400);
      expect(res.body.detail).toContain('applied, pending, conflicting');
    });

    it('lets viewers read but not change', async () => {
      expect((await h.call('POST', '/api/v1/configurations', { token: viewer, body: { name: 'v', target: '', content: { desired: { a: 1 } } } })).status).toBe(403);
      expect((await h.call('PATCH', `/api/v1/configurations/${existing}`, { token: viewer, body: { priority: 2 } })).status).toBe(403);
      expect((await h.call('DELETE', `/api/v1/configurations/${existing}`, { token: viewer })).status).toBe(403);
      expect((await h.call('GET', `/api/v1/configurations/${existing}`)).body.priority).toBe(0);
    });
  });
});
