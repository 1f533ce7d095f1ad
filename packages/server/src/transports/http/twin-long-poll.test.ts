import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';

/**
 * `GET /device/v1/twin/desired?version=&wait=`: the HTTP device's long poll of its desired
 * twin, with a real HTTP client over loopback against a whole Hangar.
 */
describe('the desired twin long poll', () => {
  let t: TestHangar;
  let base: string;

  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    base = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  async function device(id: string): Promise<Record<string, string>> {
    expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
    const cred = await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } });
    return { authorization: `Bearer ${cred.body.token as string}` };
  }
  const setDesired = async (id: string, patch: Record<string, unknown>): Promise<void> => {
    expect((await t.call('PATCH', `/api/v1/devices/${id}/twin`, { body: { desired: patch } })).status).toBe(200);
  };
  const poll = (headers: Record<string, string>, query: string, signal?: AbortSignal): Promise<Response> => fetch(`${base}/device/v1/twin/desired${query}`, { headers, signal });

  it('answers at once without version and wait, or when the device is behind', async () => {
    const auth = await device('lp-now');
    await setDesired('lp-now', { a: 1 });
    expect(await (await poll(auth, '')).json()).toEqual({ $version: 1, a: 1 });
    expect(await (await poll(auth, '?version=0&wait=30')).json()).toEqual({ $version: 1, a: 1 });
  });

  it('holds a device that is up to date until desired changes, then answers the new document', async () => {
    const auth = await device('lp-change');
    await setDesired('lp-change', { a: 1 });
    const started = Date.now();
    const pending = poll(auth, '?version=1&wait=30');
    await new Promise((r) => setTimeout(r, 200));
    await setDesired('lp-change', { a: 2 });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ $version: 2, a: 2 });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('answers 204 when nothing changed within wait, and a change of another device does not wake it', async () => {
    const auth = await device('lp-idle');
    await device('lp-other');
    const pending = poll(auth, '?version=0&wait=1');
    await setDesired('lp-other', { x: 1 });
    const res = await pending;
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it.each([
    ['?version=0&wait=61', 'wait'],
    ['?version=-1&wait=1', 'version'],
    ['?version=0&wait=soon', 'wait'],
    ['?version=0&wait=1&since=3', 'since'],
  ])('refuses %s with a 400 naming the parameter', async (query, name) => {
    const auth = await device(`lp-bad-${name}-${query.length}`);
    const res = await poll(auth, query);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toContain(name);
  });

  it('refuses more long polls of one device than it may hold, with Retry-After', async () => {
    const auth = await device('lp-many');
    const gone = new AbortController();
    const held = Array.from({ length: 4 }, () => poll(auth, '?version=0&wait=30', gone.signal).catch(() => undefined));
    await new Promise((r) => setTimeout(r, 300));
    const fifth = await poll(auth, '?version=0&wait=30');
    expect(fifth.status).toBe(429);
    expect(fifth.headers.get('retry-after')).toBe('1');
    gone.abort();
    await Promise.all(held);
    // The aborted polls freed their places.
    await new Promise((r) => setTimeout(r, 100));
    expect(t.hangar.http.server.listening).toBe(true);
    const res = await poll(auth, '?version=0&wait=1');
    expect(res.status).toBe(204);
  });
});

describe('a long poll when the server closes', () => {
  it('is answered 204 at once rather than holding the shutdown', async () => {
    const t = await startTestHangar('sqlite');
    const base = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    await t.call('POST', '/api/v1/devices', { body: { id: 'lp-close' } });
    const cred = await t.call('POST', '/api/v1/devices/lp-close/credentials', { body: { type: 'token' } });
    const pending = fetch(`${base}/device/v1/twin/desired?version=0&wait=60`, { headers: { authorization: `Bearer ${cred.body.token as string}` } });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await t.close();
    expect((await pending).status).toBe(204);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
