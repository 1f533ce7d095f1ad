import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

describe.each(STORE_KINDS)('enrollment groups that hand out PSKs on %s', (kind) => {
  let t: TestHangar;
  const provision = (body: Record<string, unknown>) => t.call('POST', '/device/v1/provision', { body, token: null });

  beforeAll(async () => {
    t = await startTestHangar(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers {type:"psk", identity, key} under the device id, which the authenticator resolves', async () => {
    const g = await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'lwm2m meters', mechanism: 'claim_token', credentialType: 'psk', deviceType: 'meter' } });
    expect(g.status).toBe(201);
    expect(g.body.credentialType).toBe('psk');
    expect((await t.call('GET', `/api/v1/enrollment-groups/${g.body.id}`)).body.credentialType).toBe('psk');
    const res = await provision({ enrollmentGroupId: g.body.id, deviceId: 'meter-psk-1', claimToken: g.body.claimToken });
    expect(res.status).toBe(201);
    expect(res.body.credential).toMatchObject({ type: 'psk', identity: 'meter-psk-1', key: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const resolved = await t.hangar.authenticator.resolvePsk('meter-psk-1', 'test');
    expect(resolved?.key.toString('hex')).toBe(res.body.credential.key);
    expect(resolved?.identity).toMatchObject({ deviceId: 'meter-psk-1', credentialId: res.body.credential.id });
    const listed = (await t.call('GET', '/api/v1/devices/meter-psk-1/credentials')).body.items;
    expect(listed).toEqual([expect.objectContaining({ type: 'psk', source: 'enrollment', identity: 'meter-psk-1' })]);
    expect(JSON.stringify(listed)).not.toContain(res.body.credential.key);
  });

  it('lets a device ask for a PSK from a group that issues tokens, and a group switch to PSKs', async () => {
    const g = await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'mixed', mechanism: 'claim_token', credentialType: 'token' } });
    const asked = await provision({ enrollmentGroupId: g.body.id, deviceId: 'mixed-1', claimToken: g.body.claimToken, credentialType: 'psk' });
    expect(asked.body.credential).toMatchObject({ type: 'psk', identity: 'mixed-1' });
    expect((await t.call('PATCH', `/api/v1/enrollment-groups/${g.body.id}`, { body: { credentialType: 'psk' } })).body.credentialType).toBe('psk');
    const switched = await provision({ enrollmentGroupId: g.body.id, deviceId: 'mixed-2', claimToken: g.body.claimToken });
    expect(switched.body.credential).toMatchObject({ type: 'psk', identity: 'mixed-2' });
  });

  it('refuses to enroll a device whose id is another credential’s PSK identity, and registers nothing', async () => {
    await t.call('POST', '/api/v1/devices', { body: { id: 'holder' } });
    expect((await t.call('POST', '/api/v1/devices/holder/credentials', { body: { type: 'psk', identity: 'newcomer' } })).status).toBe(201);
    const g = await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'clash', mechanism: 'claim_token', credentialType: 'psk', deviceLimit: 5 } });
    const res = await provision({ enrollmentGroupId: g.body.id, deviceId: 'newcomer', claimToken: g.body.claimToken });
    expect(res.status).toBe(409);
    expect(res.body.detail).toContain('PSK identity "newcomer" is already used');
    expect((await t.call('GET', '/api/v1/devices/newcomer')).status).toBe(404);
    expect((await t.call('GET', `/api/v1/enrollment-groups/${g.body.id}`)).body.enrolledCount).toBe(0);
  });
});
