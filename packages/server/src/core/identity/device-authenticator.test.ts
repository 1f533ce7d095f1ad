import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpensslWorkspace } from '../../testing/openssl.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { STORE_KINDS } from '../../testing/test-store.js';
import { DeviceAuthenticator } from './device-authenticator.js';

function der(pem: string): Buffer {
  return Buffer.from(new X509Certificate(pem).raw);
}

describe.each(STORE_KINDS)('device authenticator on %s', (kind) => {
  let t: TestHangar;
  let auth: DeviceAuthenticator;
  const ssl = new OpensslWorkspace();
  beforeAll(async () => {
    t = await startTestHangar(kind);
    // A generous throttle: these tests fail on purpose many times from one source.
    auth = new DeviceAuthenticator(t.hangar.stores, Date.now, { perIdentity: 1000, perSource: 1000 });
    for (const id of ['auth-1', 'auth-2', 'ext-1']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
  });
  afterAll(async () => {
    ssl.cleanup();
    await t?.close();
  });

  it('accepts a device id with its own active token, by id or by token alone', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/auth-1/credentials', { body: { type: 'token' } })).body;
    expect(await auth.authenticateToken('auth-1', cred.token, 'src')).toEqual({ ok: true, identity: { tenantId: 'default', deviceId: 'auth-1', credentialId: cred.id } });
    expect(await auth.authenticateBearer(cred.token, 'src')).toEqual({ ok: true, identity: { tenantId: 'default', deviceId: 'auth-1', credentialId: cred.id } });
  });

  it('refuses a wrong token, another device’s token, a revoked token and a decommissioned device', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/auth-2/credentials', { body: { type: 'token' } })).body;
    expect(await auth.authenticateToken('auth-2', 'dt_wrong', 'src')).toMatchObject({ ok: false, reason: 'bad_credentials' });
    expect(await auth.authenticateToken('auth-1', cred.token, 'src')).toMatchObject({ ok: false, reason: 'bad_credentials' });
    expect(await auth.authenticateBearer('nonsense', 'src')).toMatchObject({ ok: false, reason: 'bad_credentials' });
    await t.call('DELETE', `/api/v1/devices/auth-2/credentials/${cred.id}`);
    expect(await auth.authenticateToken('auth-2', cred.token, 'src')).toMatchObject({ ok: false, reason: 'not_authorized', detail: expect.stringContaining('revoked') });
    const fresh = (await t.call('POST', '/api/v1/devices/auth-2/credentials', { body: { type: 'token' } })).body;
    await t.call('POST', '/api/v1/devices/auth-2/decommission', { body: { purgeData: false } });
    expect(await auth.authenticateToken('auth-2', fresh.token, 'src')).toMatchObject({ ok: false, reason: 'not_authorized' });
  });

  it('slows guessing per device and source, without locking out the device’s neighbours', async () => {
    const strict = new DeviceAuthenticator(t.hangar.stores, Date.now, { perIdentity: 3, perSource: 6 });
    const cred = (await t.call('POST', '/api/v1/devices/auth-1/credentials', { body: { type: 'token' } })).body;
    for (let i = 0; i < 3; i++) expect((await strict.authenticateToken('auth-1', 'dt_guess', '10.0.0.9')).ok).toBe(false);
    expect(await strict.authenticateToken('auth-1', cred.token, '10.0.0.9')).toMatchObject({ ok: false, reason: 'rate_limited' });
    expect((await strict.authenticateToken('auth-1', cred.token, '10.0.0.10')).ok).toBe(true);
    // A healthy device behind the same address is not punished for its neighbour's guesses.
    expect((await t.call('POST', '/api/v1/devices', { body: { id: 'auth-3' } })).status).toBe(201);
    const healthy = (await t.call('POST', '/api/v1/devices/auth-3/credentials', { body: { type: 'token' } })).body;
    expect((await strict.authenticateToken('auth-3', healthy.token, '10.0.0.9')).ok).toBe(true);
    // A revoked device retrying forever counts only against itself…
    const revoked = (await t.call('POST', '/api/v1/devices/auth-3/credentials', { body: { type: 'token' } })).body;
    await t.call('DELETE', `/api/v1/devices/auth-3/credentials/${revoked.id}`);
    for (let i = 0; i < 10; i++) expect((await strict.authenticateToken('auth-3', revoked.token, '10.0.0.11')).ok).toBe(false);
    expect((await strict.authenticateToken('auth-1', cred.token, '10.0.0.11')).ok).toBe(true);
    // …while spraying many identities from one address hits the per-source ceiling.
    for (let i = 0; i < 6; i++) await strict.authenticateToken(`spray-${i}`, 'dt_x', '10.0.0.12');
    expect(await strict.authenticateToken('auth-1', cred.token, '10.0.0.12')).toMatchObject({ ok: false, reason: 'rate_limited' });
  });

  it('accepts a certificate Hangar issued, and refuses it once revoked', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/auth-1/credentials', { body: { type: 'x509' } })).body;
    expect(await auth.authenticateCertificate(der(cred.certificatePem), 'src')).toEqual({ ok: true, identity: { tenantId: 'default', deviceId: 'auth-1', credentialId: cred.id } });
    await t.call('DELETE', `/api/v1/devices/auth-1/credentials/${cred.id}`);
    expect(await auth.authenticateCertificate(der(cred.certificatePem), 'src')).toMatchObject({ ok: false, reason: 'not_authorized' });
  });

  it('refuses a certificate no Hangar CA signed, garbage, and a certificate for an unknown device', async () => {
    await ssl.ca('rogue-ca');
    const rogue = await ssl.signedBy('rogue-ca', 'rogue', 'auth-1');
    expect(await auth.authenticateCertificate(der(rogue.certPem), 'src')).toMatchObject({ ok: false, reason: 'bad_credentials' });
    expect(await auth.authenticateCertificate(Buffer.from('not a certificate'), 'src')).toMatchObject({ ok: false, reason: 'bad_credentials' });
  });

  it('enrolls an unknown device on first contact through an enabled "ca" enrollment group of its CA', async () => {
    const caName = `jit-vendor-${kind}`;
    const ca = await ssl.ca(caName);
    const reg = (await t.call('POST', '/api/v1/cas', { body: { certificatePem: ca.certPem } })).body;
    const proof = await ssl.signedBy(caName, 'jit-verification', reg.verificationCode);
    expect((await t.call('POST', `/api/v1/cas/${reg.id}/verify`, { body: { verificationCertificatePem: proof.certPem } })).status).toBe(200);
    const enroll = t.hangar.services.enrollment;
    const jit = new DeviceAuthenticator(t.hangar.stores, Date.now, { perIdentity: 1000, perSource: 1000 }, async (issuer, pem, source) => {
      const r = await enroll.enrollOnFirstContact(issuer.tenantId, issuer.id, pem, source);
      return r && { tenantId: r.tenant, deviceId: r.deviceId, credentialId: r.issued.credential.id };
    });
    const first = await ssl.signedBy(caName, 'jit-1', `jit-1-${kind}`);
    // No enrollment group yet: an unknown device is refused and nothing is registered.
    expect(await jit.authenticateCertificate(der(first.certPem), 'src')).toMatchObject({ ok: false, reason: 'bad_credentials' });
    expect((await t.call('GET', `/api/v1/devices/jit-1-${kind}`)).status).toBe(404);
    const group = (await t.call('POST', '/api/v1/enrollment-groups', { body: { name: `jit line ${kind}`, mechanism: 'ca', caId: reg.id, tags: { line: 'jit' }, deviceLimit: 1 } })).body;
    const ok = await jit.authenticateCertificate(der(first.certPem), 'src');
    expect(ok).toMatchObject({ ok: true, identity: { tenantId: 'default', deviceId: `jit-1-${kind}` } });
    const device = (await t.call('GET', `/api/v1/devices/jit-1-${kind}`)).body;
    expect(device).toMatchObject({ status: 'active', tags: { line: 'jit' }, attributes: { enrollmentGroup: group.group?.id ?? group.id } });
    // The next contact finds the recorded credential; the group's limit stops a second device.
    expect(await jit.authenticateCertificate(der(first.certPem), 'src')).toEqual(ok);
    const second = await ssl.signedBy(caName, 'jit-2', `jit-2-${kind}`);
    expect(await jit.authenticateCertificate(der(second.certPem), 'src')).toMatchObject({ ok: false, reason: 'not_authorized', detail: expect.stringContaining('limit') });
    expect((await t.call('GET', `/api/v1/devices/jit-2-${kind}`)).status).toBe(404);
  });

  it('trusts a verified external CA for existing devices and records the certificate as a revocable credential', async () => {
    const ca = await ssl.ca(`vendor-${kind}`);
    const reg = await t.call('POST', '/api/v1/cas', { body: { certificatePem: ca.certPem } });
    expect(reg.status).toBe(201);
    const proof = await ssl.signedBy(`vendor-${kind}`, 'verification', reg.body.verificationCode);
    expect((await t.call('POST', `/api/v1/cas/${reg.body.id}/verify`, { body: { verificationCertificatePem: proof.certPem } })).status).toBe(200);
    auth.invalidateCas();
    const unknown = await ssl.signedBy(`vendor-${kind}`, 'nobody', 'nobody-here');
    expect(await auth.authenticateCertificate(der(unknown.certPem), 'src')).toMatchObject({ ok: false, reason: 'bad_credentials', detail: expect.stringContaining('nobody-here') });
    const device = await ssl.signedBy(`vendor-${kind}`, 'ext-1', 'ext-1');
    const first = await auth.authenticateCertificate(der(device.certPem), 'src');
    expect(first).toMatchObject({ ok: true, identity: { deviceId: 'ext-1' } });
    const again = await auth.authenticateCertificate(der(device.certPem), 'src');
    expect(again).toEqual(first);
    const listed = (await t.call('GET', '/api/v1/devices/ext-1/credentials')).body.items;
    const fingerprint = createHash('sha256').update(der(device.certPem)).digest('hex');
    expect(listed).toEqual([expect.objectContaining({ type: 'x509', source: 'jit' })]);
    expect((await t.hangar.stores.identity.findCredentialsByFingerprint(fingerprint)).length).toBe(1);
    await t.call('DELETE', `/api/v1/devices/ext-1/credentials/${listed[0].id}`);
    expect(await auth.authenticateCertificate(der(device.certPem), 'src')).toMatchObject({ ok: false, reason: 'not_authorized' });
  });
});
