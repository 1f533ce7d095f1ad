import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpensslWorkspace } from '../../testing/openssl.js';
import { STORE_KINDS } from '../../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { MAX_ACTIVE_CREDENTIALS } from './credential-service.js';
import { deriveDeviceKey, proofPayload } from './enrollment-service.js';

/**
 * Issuance and enrollment commit in groups (group-commit.ts): many concurrent requests share
 * one transaction. These are the rules that must hold all the same when they arrive at once.
 */
describe.each(STORE_KINDS)('concurrent enrollment and issuance on %s', (kind) => {
  let t: TestHangar;
  let ssl: OpensslWorkspace;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    ssl = new OpensslWorkspace();
  });
  afterAll(async () => {
    ssl?.cleanup();
    await t?.close();
  });

  // Every refusal counts against the source (one address here); these tests stay under the 20 allowed.
  const provision = (body: Record<string, unknown>) => t.call('POST', '/device/v1/provision', { body, token: null });

  it('admits exactly deviceLimit devices out of many at once, with one audit entry and one event each, published after commit', async () => {
    const g = (await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'rush', mechanism: 'claim_token', credentialType: 'token', deviceLimit: 3 } })).body;
    const visibleAtEvent: Array<Promise<boolean>> = [];
    const off = t.hangar.bus.subscribe('device.enrolled', (e) => {
      if (e.enrollmentGroupId === g.id) visibleAtEvent.push(t.hangar.stores.devices.get(e.tenantId, e.deviceId).then((d) => d !== undefined));
    });
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => provision({ enrollmentGroupId: g.id, deviceId: `rush-${i}`, claimToken: g.claimToken })));
    off?.();
    const admitted = answers.filter((a) => a.status === 201);
    expect(admitted).toHaveLength(3);
    for (const refused of answers.filter((a) => a.status !== 201)) {
      expect(refused.status).toBe(403);
      expect(refused.body.detail).toMatch(/limit of 3/);
    }
    expect((await t.call('GET', `/api/v1/enrollment-groups/${g.id}`)).body.enrolledCount).toBe(3);
    const enrolled = (await t.hangar.stores.audit.list({ tenantId: 'default', action: 'device.enroll', limit: 1000 })).filter((e) => e.summary.enrollmentGroup === g.id);
    expect(enrolled.map((e) => e.target.id).sort()).toEqual(admitted.map((a) => a.body.deviceId).sort());
    // Refused devices left nothing behind.
    const owners = await t.hangar.stores.devices.findOwners(Array.from({ length: 8 }, (_, i) => `rush-${i}`));
    expect(owners.size).toBe(3);
    expect(await Promise.all(visibleAtEvent)).toEqual([true, true, true]);
  });

  it('enrolls a device id sent many times at once exactly once', async () => {
    const g = (await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'twins', mechanism: 'claim_token', credentialType: 'token' } })).body;
    const answers = await Promise.all(Array.from({ length: 6 }, () => provision({ enrollmentGroupId: g.id, deviceId: 'same-id', claimToken: g.claimToken })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect((await t.call('GET', `/api/v1/enrollment-groups/${g.id}`)).body.enrolledCount).toBe(1);
    expect(await t.hangar.stores.identity.listCredentials('default', 'same-id')).toHaveLength(1);
  });

  it('accepts a symmetric-key proof replayed at once only one time', async () => {
    const g = (await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'replayed', mechanism: 'symmetric_key', credentialType: 'token' } })).body;
    const timestamp = Date.now();
    const nonce = randomBytes(12).toString('base64url');
    const key = deriveDeviceKey(Buffer.from(g.groupKey, 'base64'), 'replayed-1');
    const proof = { timestamp, nonce, signature: createHmac('sha256', key).update(proofPayload(g.id, 'replayed-1', timestamp, nonce)).digest('base64') };
    const answers = await Promise.all(Array.from({ length: 4 }, () => provision({ enrollmentGroupId: g.id, deviceId: 'replayed-1', proof })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 401).every((a) => /replay/.test(a.body.detail))).toBe(true);
  });

  it(`issues at most ${MAX_ACTIVE_CREDENTIALS} active credentials to one device however many arrive at once`, async () => {
    await t.call('POST', '/api/v1/devices', { body: { id: 'busy-1' } });
    const csrs = await Promise.all(Array.from({ length: MAX_ACTIVE_CREDENTIALS + 3 }, (_, i) => ssl.csr(`busy-${i}`, '/CN=busy-1', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'])));
    const answers = await Promise.all(csrs.map(({ csrPem }) => t.call('POST', '/api/v1/devices/busy-1/credentials', { body: { type: 'x509', csr: csrPem } })));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(MAX_ACTIVE_CREDENTIALS);
    expect(answers.filter((a) => a.status === 409).every((a) => /already has 10 active credentials/.test(a.body.detail))).toBe(true);
    expect(await t.hangar.stores.identity.listCredentials('default', 'busy-1')).toHaveLength(MAX_ACTIVE_CREDENTIALS);
    const audited = await t.hangar.stores.audit.list({ tenantId: 'default', action: 'credential.create', targetId: 'busy-1', limit: 100 });
    expect(audited).toHaveLength(MAX_ACTIVE_CREDENTIALS);
  });
});
