import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../bus/events.js';
import { MasterKey } from '../core/identity/master-key.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

const KEY = '00112233445566778899aabbccddeeff';

describe.each(STORE_KINDS)('PSK credentials on %s', (kind) => {
  let t: TestHangar;
  const events: DomainEvent[] = [];
  const masterKey = MasterKey.forTests();
  const issue = (deviceId: string, body: Record<string, unknown>) => t.call('POST', `/api/v1/devices/${encodeURIComponent(deviceId)}/credentials`, { body: { type: 'psk', ...body } });
  const credentialRows = () => t.hangar.store.db.selectFrom('device_credentials').selectAll().orderBy('id').execute();

  beforeAll(async () => {
    t = await startTestHangar(kind, { masterKey });
    t.hangar.bus.subscribe('credential.revoked', (e) => void events.push(e));
    for (const id of ['node-1', 'node-2', 'node-3', 'node-4', 'node-5']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('generates a 16-byte key under the device id, answers it once and stores it sealed', async () => {
    const res = await issue('node-1', {});
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ type: 'psk', identity: 'node-1' });
    expect(res.body.id).toEqual(expect.any(String));
    expect(res.body.key).toMatch(/^[0-9a-f]{32}$/);
    const listed = await t.call('GET', '/api/v1/devices/node-1/credentials');
    expect(listed.body.items).toEqual([expect.objectContaining({ id: res.body.id, type: 'psk', identity: 'node-1', status: 'active' })]);
    expect(JSON.stringify(listed.body)).not.toContain(res.body.key);
    // At rest: sealed, not the key in any form.
    const rows = JSON.stringify(await credentialRows());
    expect(rows).not.toContain(res.body.key);
    expect(rows).not.toContain(Buffer.from(res.body.key, 'hex').toString('base64'));
    // The authenticator gets the very key back.
    const resolved = await t.hangar.authenticator.resolvePsk('node-1', 'test');
    expect(resolved?.key.toString('hex')).toBe(res.body.key);
    expect(resolved?.identity).toEqual({ tenantId: 'default', deviceId: 'node-1', credentialId: res.body.id });
  });

  it('takes the identity and key an operator supplies (hex in either case, as up to 64 bytes)', async () => {
    const res = await issue('node-2', { identity: 'meter 42 · Zählerschrank', key: KEY.toUpperCase(), validityDays: 10 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ type: 'psk', identity: 'meter 42 · Zählerschrank', key: KEY });
    expect((await t.hangar.authenticator.resolvePsk('meter 42 · Zählerschrank', 'test'))?.key.toString('hex')).toBe(KEY);
    const long = await issue('node-2', { identity: 'node-2-long', key: 'ab'.repeat(64) });
    expect(long.status).toBe(201);
    expect(long.body.key).toBe('ab'.repeat(64));
  });

  describe('refuses bad input, naming the field, and stores nothing', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['a short key', { key: 'ab'.repeat(15) }, 'key'],
      ['a key over 64 bytes', { key: 'ab'.repeat(65) }, 'key'],
      ['an odd number of hex digits', { key: `${KEY}a` }, 'key'],
      ['a key that is not hex', { key: `${KEY.slice(2)}zz` }, 'key'],
      ['a 0x prefix', { key: `0x${KEY}` }, 'key'],
      ['an empty identity', { identity: '' }, 'identity'],
      ['an identity with a control character', { identity: 'node\u0000x' }, 'identity'],
      ['an identity with a newline', { identity: 'node\nx' }, 'identity'],
      ['an identity over 128 bytes of UTF-8', { identity: 'ü'.repeat(65) }, 'identity'],
      ['a CSR on a psk request', { csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----' }, 'csr'],
    ];
    for (const [what, body, field] of cases) {
      it(`refuses ${what}`, async () => {
        const before = await credentialRows();
        const res = await issue('node-3', body);
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ path: `body/${field}` })] });
        expect(res.body.detail).toMatch(new RegExp(`^${field}`));
        expect(await credentialRows()).toEqual(before);
      });
    }

    it('refuses a key or an identity on a token or certificate request', async () => {
      const key = await t.call('POST', '/api/v1/devices/node-3/credentials', { body: { type: 'token', key: KEY } });
      expect(key.status).toBe(400);
      expect(key.body).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'body/key' }] });
      expect(key.body.detail).toContain('only goes with type "psk"');
      const identity = await t.call('POST', '/api/v1/devices/node-3/credentials', { body: { type: 'x509', identity: 'x' } });
      expect(identity.status).toBe(400);
      expect(identity.body).toMatchObject({ errors: [{ path: 'body/identity' }] });
      expect((await t.call('GET', '/api/v1/devices/node-3/credentials')).body.items).toEqual([]);
    });

    it('refuses an identity an active credential holds, in any tenant, with 409', async () => {
      const taken = await issue('node-3', { identity: 'node-1' });
      expect(taken.status).toBe(409);
      expect(taken.body.code).toBe('CONFLICT');
      expect(taken.body.detail).toContain('PSK identity "node-1" is already used');
      // Another tenant cannot take it either: the handshake names the identity alone.
      const tenant = await t.call('POST', '/api/v1/tenants', { body: { id: 'other', name: 'Other' } });
      expect(tenant.status).toBe(201);
      const token = tenant.body.adminApiKey.token as string;
      expect((await t.call('POST', '/api/v1/devices', { body: { id: 'other-1' }, token })).status).toBe(201);
      const cross = await t.call('POST', '/api/v1/devices/other-1/credentials', { body: { type: 'psk', identity: 'node-1' }, token });
      expect(cross.status).toBe(409);
      expect(cross.body.detail).not.toContain('default');
      expect((await t.call('GET', '/api/v1/devices/node-3/credentials')).body.items).toEqual([]);
    });

    it('answers 409 to one of two concurrent requests for the same identity', async () => {
      const [a, b] = await Promise.all([issue('node-4', { identity: 'race' }), issue('node-5', { identity: 'race' })]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      expect((await credentialRows()).filter((r) => r.psk_identity === 'race')).toHaveLength(1);
    });
  });

  it('revokes a PSK: the event carries its id, the identity resolves no more and is free again', async () => {
    const cred = await issue('node-4', { identity: 'rotating', key: KEY });
    expect(cred.status).toBe(201);
    const res = await t.call('DELETE', `/api/v1/devices/node-4/credentials/${cred.body.id}?reason=keyCompromise`);
    expect(res.status).toBe(204);
    await expect.poll(() => events.find((e) => e.type === 'credential.revoked' && e.credentialId === cred.body.id)).toMatchObject({ deviceId: 'node-4', credentialType: 'psk' });
    expect(await t.hangar.authenticator.resolvePsk('rotating', 'test')).toBeUndefined();
    const listed = (await t.call('GET', '/api/v1/devices/node-4/credentials')).body.items;
    expect(listed.find((c: { id: string }) => c.id === cred.body.id)).toMatchObject({ status: 'revoked', identity: 'rotating', revocationReason: 'keyCompromise' });
    // A device with a fixed identity gets a new key under the same identity.
    const next = await issue('node-4', { identity: 'rotating' });
    expect(next.status).toBe(201);
    expect(next.body.key).not.toBe(KEY);
    expect((await t.hangar.authenticator.resolvePsk('rotating', 'test'))?.identity.credentialId).toBe(next.body.id);
    const audit = await t.call('GET', '/api/v1/audit?targetId=node-4');
    const revoke = audit.body.items.find((e: { action: string }) => e.action === 'credential.revoke');
    expect(revoke.summary).toMatchObject({ credentialId: cred.body.id, type: 'psk', identity: 'rotating' });
    expect(JSON.stringify(audit.body)).not.toContain(KEY);
  });

  it('revokes PSKs on decommissioning, and a recommissioned device gets a new one under its id', async () => {
    const cred = await issue('node-5', {});
    expect(cred.status).toBe(201);
    // node-5 may also hold the identity it won in the race above.
    const active = (await t.call('GET', '/api/v1/devices/node-5/credentials')).body.items.filter((c: { status: string }) => c.status === 'active').length;
    const res = await t.call('POST', '/api/v1/devices/node-5/decommission', { body: { purgeData: false } });
    expect(res.body).toMatchObject({ status: 'decommissioned', revokedCredentials: active });
    await expect.poll(() => events.some((e) => e.type === 'credential.revoked' && e.credentialId === cred.body.id)).toBe(true);
    expect(await t.hangar.authenticator.resolvePsk('node-5', 'test')).toBeUndefined();
    expect((await t.call('POST', '/api/v1/devices/node-5/recommission')).status).toBe(200);
    expect((await issue('node-5', {})).status).toBe(201);
  });

  it('revokes PSKs when the device is deleted, freeing the identity', async () => {
    await t.call('POST', '/api/v1/devices', { body: { id: 'gone-1' } });
    expect((await issue('gone-1', { identity: 'gone' })).status).toBe(201);
    expect((await t.call('DELETE', '/api/v1/devices/gone-1')).status).toBe(204);
    expect(await t.hangar.authenticator.resolvePsk('gone', 'test')).toBeUndefined();
    expect((await issue('node-3', { identity: 'gone' })).status).toBe(201);
  });

  it('documents the psk type, identity and key in the OpenAPI document', async () => {
    const doc = JSON.stringify((await t.call('GET', '/api/v1/openapi.json')).body);
    expect(doc).toContain('"psk"');
    expect(doc).toContain('psk only: the key as hex');
  });
});
