import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { coapClient } from './coap-fixture.js';

/**
 * The twin over CoAP against a whole Hangar (the real twin service behind the endpoint), with
 * libcoap's coap-client: reported patches stored, the size limit and bad bodies refused.
 */
describe('the twin over CoAP', () => {
  let t: TestHangar;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'hangar-coap-twin-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    port = await t.hangar.coapListeners.plain.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function device(id: string): Promise<string> {
    await t.call('POST', '/api/v1/devices', { body: { id } });
    return `coap://127.0.0.1:${port}/device/v1/twin/reported?device=${id}&token=${(await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } })).body.token as string}`;
  }

  it('stores a reported patch sent block-wise, and refuses one past the size limit with 4.13, changing nothing', async () => {
    const url = await device('coap-twin-limit');
    const fits = JSON.stringify({ fw: '1.0', blob: 'x'.repeat(20 * 1024) });
    expect((await coapClient(['-m', 'patch', '-t', '50', '-b', '1024', '-f', file('fits.json', fits), url])).stderr).toBe('');
    const over = JSON.stringify({ blob2: 'y'.repeat(20 * 1024) });
    const refused = await coapClient(['-m', 'patch', '-t', '50', '-b', '1024', '-f', file('over.json', over), url]);
    expect(refused.stderr).toMatch(/^4\.13 /);
    const twin = (await t.call('GET', '/api/v1/devices/coap-twin-limit/twin')).body;
    expect(twin.reported.$version).toBe(1);
    expect(twin.reported).not.toHaveProperty('blob2');
  });

  it('refuses a body that is not a JSON object with 4.00 and stores nothing', async () => {
    const url = await device('coap-twin-bad');
    for (const body of ['[1]', 'nope', '{"$version":2}']) expect((await coapClient(['-m', 'patch', '-t', '50', '-e', body, url])).stderr, body).toMatch(/^4\.00 /);
    expect((await t.call('GET', '/api/v1/devices/coap-twin-bad/twin')).body.reported).toEqual({ $version: 0, $metadata: {} });
  });
});
