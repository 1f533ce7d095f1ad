import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../bus/events.js';
import { deriveDeviceKey, proofPayload } from '../core/identity/enrollment-service.js';
import { OpensslWorkspace } from '../testing/openssl.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

describe.each(STORE_KINDS)('identity on %s', (kind) => {
  let t: TestHangar;
  let ssl: OpensslWorkspace;
  const events: DomainEvent[] = [];

  beforeAll(async () => {
    t = await startTestHangar(kind);
    ssl = new OpensslWorkspace();
    t.hangar.bus.subscribe('credential.revoked', (e) => void events.push(e));
    t.hangar.bus.subscribe('device.decommissioned', (e) => void events.push(e));
    for (const id of ['cam-1', 'cam-2', 'cam-3', 'cam-4']) await t.call('POST', '/api/v1/devices', { body: { id } });
    ssl.write('ca.pem', (await t.call('GET', '/pki/default/ca.pem', { token: null })).body);
  });
  afterAll(async () => {
    ssl?.cleanup();
    await t?.close();
  });

  const crl = async (): Promise<string> => ssl.write('crl.pem', (await t.call('GET', '/pki/default/crl.pem', { token: null })).body);

  describe('tenant CA', () => {
    it('serves the CA certificate publicly: an ECDSA P-256 CA', async () => {
      const text = await ssl.ok(['x509', '-in', 'ca.pem', '-noout', '-text']);
      expect(text).toContain('CA:TRUE');
      expect(text).toMatch(/prime256v1|P-256/);
    });

    it('gives each new tenant its own CA', async () => {
      await t.call('POST', '/api/v1/tenants', { body: { id: 'other', name: 'Other' } });
      const other = await t.call('GET', '/pki/other/ca.pem', { token: null });
      expect(other.status).toBe(200);
      expect(other.body).toContain('BEGIN CERTIFICATE');
      expect(other.body).not.toBe(ssl.read('ca.pem'));
      expect((await t.call('GET', '/pki/nobody/ca.pem', { token: null })).status).toBe(404);
    });

    it('never stores the CA private key in clear', async () => {
      const cas = await t.hangar.store.db.selectFrom('certificate_authorities').select('encrypted_key').execute();
      for (const ca of cas) expect(ca.encrypted_key ?? '').not.toContain('PRIVATE KEY');
    });
  });

  describe('credentials', () => {
    it('issues a certificate with a generated key that openssl verifies, and answers the key only once', async () => {
      const res = await t.call('POST', '/api/v1/devices/cam-1/credentials', { body: { type: 'x509' } });
      expect(res.status).toBe(201);
      expect(res.body.privateKeyPem).toContain('PRIVATE KEY');
      expect(res.body.caPem).toBe(ssl.read('ca.pem'));
      ssl.write('cam-1.pem', res.body.certificatePem);
      expect(await ssl.ok(['verify', '-CAfile', 'ca.pem', 'cam-1.pem'])).toContain('cam-1.pem: OK');
      expect(await ssl.ok(['x509', '-in', 'cam-1.pem', '-noout', '-subject'])).toMatch(/CN ?= ?cam-1/);
      const listed = await t.call('GET', '/api/v1/devices/cam-1/credentials');
      expect(JSON.stringify(listed.body)).not.toContain('PRIVATE KEY');
      const keyLine = (res.body.privateKeyPem as string).split('\n')[1]!;
      const rows = await t.hangar.store.db.selectFrom('device_credentials').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(keyLine);
    });

    it.each([
      ['P-256', P256],
      ['P-384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']],
      ['Ed25519', ['-newkey', 'ed25519']],
      ['RSA-2048', ['-newkey', 'rsa:2048']],
    ])('signs an openssl CSR with a %s key; the device keeps its key', async (name, keyArgs) => {
      const { csrPem } = await ssl.csr(`csr-${name}`, '/CN=cam-2', keyArgs);
      const res = await t.call('POST', '/api/v1/devices/cam-2/credentials', { body: { type: 'x509', csr: csrPem } });
      expect(res.status).toBe(201);
      expect(res.body.privateKeyPem).toBeUndefined();
      ssl.write(`cam-2-${name}.pem`, res.body.certificatePem);
      expect(await ssl.ok(['verify', '-CAfile', 'ca.pem', `cam-2-${name}.pem`])).toContain('OK');
      const certKey = await ssl.ok(['x509', '-in', `cam-2-${name}.pem`, '-noout', '-pubkey']);
      const csrKey = await ssl.ok(['req', '-in', `csr-${name}.csr`, '-noout', '-pubkey']);
      expect(certKey).toBe(csrKey);
      const serial = (await ssl.ok(['x509', '-in', `cam-2-${name}.pem`, '-noout', '-serial'])).trim().split('=')[1]!.toLowerCase();
      expect(serial.replace(/^0+/, '')).toBe(String(res.body.serial).replace(/^0+/, ''));
    });

    it('issues a token once and stores only its hash', async () => {
      const res = await t.call('POST', '/api/v1/devices/cam-3/credentials', { body: { type: 'token', validityDays: 30 } });
      expect(res.status).toBe(201);
      expect(res.body.token).toMatch(/^dt_/);
      expect(Buffer.from(res.body.token.slice(3), 'base64url').length * 8).toBeGreaterThanOrEqual(128);
      expect(await t.hangar.services.credentials.authenticateToken('cam-3', res.body.token)).toMatchObject({ deviceId: 'cam-3', tenantId: 'default' });
      expect(await t.hangar.services.credentials.authenticateToken('cam-4', res.body.token)).toBeUndefined();
      const rows = await t.hangar.store.db.selectFrom('device_credentials').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(res.body.token);
      expect(JSON.stringify((await t.call('GET', '/api/v1/devices/cam-3/credentials')).body)).not.toContain(res.body.token);
    });

    describe('refuses bad input and stores nothing', () => {
      const count = async (): Promise<number> => (await t.hangar.store.db.selectFrom('device_credentials').selectAll().execute()).length;
      const cases: Array<[string, () => Promise<{ status: number; body: any }>, number, RegExp]> = [
        ['garbage PEM', async () => t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'x509', csr: 'hello' } }), 400, /CSR|PEM/i],
        [
          'a truncated CSR',
          async () => {
            const { csrPem } = await ssl.csr('trunc', '/CN=cam-4', P256);
            return t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'x509', csr: csrPem.slice(0, csrPem.length / 2) } });
          },
          400,
          /./,
        ],
        [
          'a CSR whose signature does not verify',
          async () => {
            const { csrPem } = await ssl.csr('badsig', '/CN=cam-4', P256);
            const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
            der[der.length - 5] = der[der.length - 5]! ^ 0xff;
            const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
            return t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'x509', csr: broken } });
          },
          400,
          /signature/i,
        ],
        ['a weak RSA-1024 key', async () => t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'x509', csr: (await ssl.csr('rsa1024', '/CN=cam-4', ['-newkey', 'rsa:1024'])).csrPem } }), 400, /1024/],
        ['a CSR whose CN names another device', async () => t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'x509', csr: (await ssl.csr('other', '/CN=cam-1', P256)).csrPem } }), 400, /another device/],
        ['a CSR with a token', async () => t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'token', csr: 'x' } }), 400, /CSR/],
        ['an unknown device', async () => t.call('POST', '/api/v1/devices/ghost/credentials', { body: { type: 'token' } }), 404, /ghost/],
        ['a validity out of range', async () => t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'token', validityDays: 0 } }), 400, /validityDays/],
        ['a viewer', async () => {
          const viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'v', role: 'viewer' } })).body.token;
          return t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'token' }, token: viewer });
        }, 403, /operator/],
      ];
      it.each(cases)('%s', async (_name, send, status, detail) => {
        const before = await count();
        const res = await send();
        expect(res.status).toBe(status);
        expect(res.body.detail).toMatch(detail);
        expect(await count()).toBe(before);
      });

      it('refuses an unaccepted curve (P-521)', async () => {
        const res = await t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'x509', csr: (await ssl.csr('p521', '/CN=cam-4', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'])).csrPem } });
        expect(res.status).toBe(400);
      });
    });
  });

  describe('revocation', () => {
    it('puts a revoked certificate on the CRL that openssl checks, and announces it on the bus', async () => {
      const issued = await t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'x509' } });
      const keep = await t.call('POST', '/api/v1/devices/cam-4/credentials', { body: { type: 'x509' } });
      ssl.write('revoked.pem', issued.body.certificatePem);
      ssl.write('kept.pem', keep.body.certificatePem);
      await crl();
      expect(await ssl.ok(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'ca.pem', 'revoked.pem'])).toContain('OK');

      const started = Date.now();
      expect((await t.call('DELETE', `/api/v1/devices/cam-4/credentials/${issued.body.id}?reason=keyCompromise`)).status).toBe(204);
      await new Promise((r) => setTimeout(r, 20));
      const event = events.find((e) => e.type === 'credential.revoked' && e.credentialId === issued.body.id);
      expect(event).toMatchObject({ deviceId: 'cam-4', credentialType: 'x509', serialHex: issued.body.serial });
      expect(Date.now() - started).toBeLessThan(1000);

      await crl();
      const text = await ssl.ok(['crl', '-in', 'crl.pem', '-noout', '-text']);
      expect(text.toLowerCase().replace(/:/g, '')).toContain(String(issued.body.serial).toLowerCase());
      expect(text).toMatch(/Next Update/);
      expect(text).toMatch(/Key Compromise/);
      const refused = await ssl.run(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'ca.pem', 'revoked.pem']);
      expect(refused.code).not.toBe(0);
      expect(refused.stdout + refused.stderr).toMatch(/certificate revoked/);
      expect(await ssl.ok(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'ca.pem', 'kept.pem'])).toContain('OK');
    });

    it('refuses to revoke twice and leaves the CRL as it was', async () => {
      const token = await t.call('POST', '/api/v1/devices/cam-3/credentials', { body: { type: 'token' } });
      expect((await t.call('DELETE', `/api/v1/devices/cam-3/credentials/${token.body.id}`)).status).toBe(204);
      expect(await t.hangar.services.credentials.authenticateToken('cam-3', token.body.token)).toBeUndefined();
      const before = (await t.call('GET', '/pki/default/crl.pem', { token: null })).body;
      const again = await t.call('DELETE', `/api/v1/devices/cam-3/credentials/${token.body.id}`);
      expect(again.status).toBe(409);
      expect(again.body.detail).toMatch(/already revoked/);
      expect((await t.call('GET', '/pki/default/crl.pem', { token: null })).body).toBe(before);
      expect((await t.call('DELETE', '/api/v1/devices/cam-3/credentials/cred_nope')).status).toBe(404);
    });
  });

  describe('decommissioning', () => {
    it('revokes every credential, closes sessions by event, purges data when asked, and keeps the audit trail', async () => {
      await t.call('POST', '/api/v1/devices', { body: { id: 'old-1' } });
      const cert = await t.call('POST', '/api/v1/devices/old-1/credentials', { body: { type: 'x509' } });
      const token = await t.call('POST', '/api/v1/devices/old-1/credentials', { body: { type: 'token' } });
      await t.hangar.store.db.insertInto('telemetry_latest').values({ tenant_id: 'default', device_id: 'old-1', key: 'temp', value_num: 21, value_str: null, value_bool: null, ts: 1 }).execute();
      const res = await t.call('POST', '/api/v1/devices/old-1/decommission', { body: { purgeData: true } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'decommissioned', revokedCredentials: 2 });
      await new Promise((r) => setTimeout(r, 20));
      expect(events.filter((e) => 'deviceId' in e && e.deviceId === 'old-1').map((e) => e.type).sort()).toEqual(['credential.revoked', 'credential.revoked', 'device.decommissioned']);
      expect(await t.hangar.services.credentials.authenticateToken('old-1', token.body.token)).toBeUndefined();
      ssl.write('old-1.pem', cert.body.certificatePem);
      await crl();
      expect((await ssl.run(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'ca.pem', 'old-1.pem'])).code).not.toBe(0);
      expect(await t.hangar.store.db.selectFrom('telemetry_latest').selectAll().where('device_id', '=', 'old-1').execute()).toEqual([]);
      const audit = await t.call('GET', '/api/v1/audit?targetId=old-1');
      expect(audit.body.items.map((e: { action: string }) => e.action)).toEqual(['device.decommission', 'credential.create', 'credential.create', 'device.create']);
    });

    it('refuses to re-create, re-credential or decommission twice, until an operator recommissions', async () => {
      expect((await t.call('POST', '/api/v1/devices', { body: { id: 'old-1' } })).body.code).toBe('DEVICE_DECOMMISSIONED');
      expect((await t.call('POST', '/api/v1/devices/old-1/credentials', { body: { type: 'token' } })).status).toBe(409);
      expect((await t.call('POST', '/api/v1/devices/old-1/decommission', { body: { purgeData: false } })).status).toBe(409);
      expect((await t.call('PATCH', '/api/v1/devices/old-1', { body: { tags: { a: 'b' } } })).status).toBe(409);
      expect((await t.call('POST', '/api/v1/devices/old-1/decommission', { body: {} })).status).toBe(400);
      // Deleting would free the id: a decommissioned device is kept until recommissioned.
      expect((await t.call('DELETE', '/api/v1/devices/old-1')).body.code).toBe('DEVICE_DECOMMISSIONED');
      const back = await t.call('POST', '/api/v1/devices/old-1/recommission', { headers: { 'content-type': 'application/json' }, payload: '' });
      expect(back.body.status).toBe('active');
      expect((await t.call('POST', '/api/v1/devices/old-1/recommission')).status).toBe(409);
      expect((await t.call('GET', '/api/v1/devices/old-1/credentials')).body.items.every((c: { status: string }) => c.status === 'revoked')).toBe(true);
    });

    it('keeps a deleted device’s certificates on the CRL', async () => {
      await t.call('POST', '/api/v1/devices', { body: { id: 'gone-1' } });
      const cert = await t.call('POST', '/api/v1/devices/gone-1/credentials', { body: { type: 'x509' } });
      expect((await t.call('DELETE', '/api/v1/devices/gone-1')).status).toBe(204);
      ssl.write('gone-1.pem', cert.body.certificatePem);
      await crl();
      expect((await ssl.run(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'ca.pem', 'gone-1.pem'])).code).not.toBe(0);
    });
  });

  describe('enrollment groups', () => {
    const provision = (body: Record<string, unknown>) => t.call('POST', '/device/v1/provision', { body, token: null });

    it('enrolls by claim token with the group’s initial type, tags, groups and desired twin', async () => {
      await t.call('POST', '/api/v1/groups', { body: { id: 'fleet-a', kind: 'static' } });
      const g = await t.call('POST', '/api/v1/enrollment-groups', {
        body: { name: 'factory line 1', mechanism: 'claim_token', deviceType: 'meter', tags: { line: '1' }, groups: ['fleet-a'], initialDesired: { interval: 60 }, credentialType: 'token' },
      });
      expect(g.status).toBe(201);
      expect(g.body.claimToken).toMatch(/^ct_/);
      expect(JSON.stringify((await t.call('GET', '/api/v1/enrollment-groups')).body)).not.toContain(g.body.claimToken);
      const res = await provision({ enrollmentGroupId: g.body.id, deviceId: 'meter-1', claimToken: g.body.claimToken });
      expect(res.status).toBe(201);
      expect(res.body.credential.token).toMatch(/^dt_/);
      expect(await t.hangar.services.credentials.authenticateToken('meter-1', res.body.credential.token)).toBeDefined();
      const device = (await t.call('GET', '/api/v1/devices/meter-1')).body;
      expect(device).toMatchObject({ type: 'meter', tags: { line: '1' }, groups: ['fleet-a'] });
      const twin = (await t.call('GET', '/api/v1/devices/meter-1/twin')).body;
      expect(twin.desired).toMatchObject({ interval: 60, $version: 1 });
      expect(twin.desired.$metadata.interval.$lastUpdated).toMatch(/^\d{4}-/);
      expect(twin.delta).toEqual({ interval: 60 });
      // With a CSR the device keeps its key and gets a certificate openssl accepts.
      const { csrPem } = await ssl.csr('meter-2', '/CN=meter-2', P256);
      const withCsr = await provision({ enrollmentGroupId: g.body.id, deviceId: 'meter-2', claimToken: g.body.claimToken, csr: csrPem });
      expect(withCsr.status).toBe(201);
      ssl.write('meter-2.pem', withCsr.body.credential.certificatePem);
      expect(await ssl.ok(['verify', '-CAfile', 'ca.pem', 'meter-2.pem'])).toContain('OK');
      // Replaying the same request enrolls nothing twice.
      const replay = await provision({ enrollmentGroupId: g.body.id, deviceId: 'meter-1', claimToken: g.body.claimToken });
      expect(replay.status).toBe(409);
      expect((await t.call('GET', `/api/v1/enrollment-groups/${g.body.id}`)).body.enrolledCount).toBe(2);
    });

    it('refuses a wrong claim token, a disabled, expired or exhausted group, and a decommissioned device', async () => {
      const g = (await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'limited', mechanism: 'claim_token', deviceLimit: 1 } })).body;
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'lim-1', claimToken: 'ct_wrong' })).status).toBe(401);
      expect((await provision({ enrollmentGroupId: 'eg_nope', deviceId: 'lim-1', claimToken: g.claimToken })).status).toBe(401);
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'lim-1', claimToken: g.claimToken })).status).toBe(201);
      const full = await provision({ enrollmentGroupId: g.id, deviceId: 'lim-2', claimToken: g.claimToken });
      expect(full.status).toBe(403);
      expect(full.body.detail).toMatch(/limit of 1/);
      await t.call('PATCH', `/api/v1/enrollment-groups/${g.id}`, { body: { deviceLimit: 10, enabled: false } });
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'lim-2', claimToken: g.claimToken })).body.detail).toMatch(/disabled/);
      await t.call('PATCH', `/api/v1/enrollment-groups/${g.id}`, { body: { enabled: true, expiresAt: '2020-01-01T00:00:00Z' } });
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'lim-2', claimToken: g.claimToken })).body.detail).toMatch(/expired/);
      await t.call('PATCH', `/api/v1/enrollment-groups/${g.id}`, { body: { expiresAt: null } });
      await t.call('POST', '/api/v1/devices/lim-1/decommission', { body: { purgeData: false } });
      const again = await provision({ enrollmentGroupId: g.id, deviceId: 'lim-1', claimToken: g.claimToken });
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('DEVICE_DECOMMISSIONED');
      expect(await t.hangar.stores.devices.get('default', 'lim-2')).toBeUndefined();
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'bad id', claimToken: g.claimToken })).status).toBe(400);
    });

    it('enrolls with a key derived from the group key (Azure DPS), refusing wrong keys, stale proofs and replays', async () => {
      const g = (await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'symmetric', mechanism: 'symmetric_key' } })).body;
      expect(Buffer.from(g.groupKey, 'base64')).toHaveLength(32);
      const sign = (key: Buffer, deviceId: string, timestamp = Date.now(), nonce = randomBytes(12).toString('base64url')) => ({
        timestamp,
        nonce,
        signature: createHmac('sha256', deriveDeviceKey(key, deviceId)).update(proofPayload(g.id, deviceId, timestamp, nonce)).digest('base64'),
      });
      const groupKey = Buffer.from(g.groupKey, 'base64');
      const proof = sign(groupKey, 'sym-1');
      const ok = await provision({ enrollmentGroupId: g.id, deviceId: 'sym-1', proof });
      expect(ok.status).toBe(201);
      expect(ok.body.credential.certificatePem).toContain('BEGIN CERTIFICATE');
      const replay = await provision({ enrollmentGroupId: g.id, deviceId: 'sym-1', proof });
      expect(replay.status).toBe(401);
      expect(replay.body.detail).toMatch(/replay/);
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'sym-2', proof: sign(randomBytes(32), 'sym-2') })).status).toBe(401);
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'sym-2', proof: sign(groupKey, 'sym-3') })).status).toBe(401);
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'sym-2', proof: sign(groupKey, 'sym-2', Date.now() - 10 * 60_000) })).body.detail).toMatch(/timestamp/);
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'sym-2' })).status).toBe(400);
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'sym-2', proof: sign(groupKey, 'sym-2') })).status).toBe(201);
    });

    it('registers an external CA with proof of possession and admits its devices just in time', async () => {
      const ext = await ssl.ca('vendor-ca');
      const reg = await t.call('POST', '/api/v1/cas', { body: { certificatePem: ext.certPem } });
      expect(reg.status).toBe(201);
      expect(reg.body).toMatchObject({ kind: 'external', status: 'pending_verification' });
      expect((await t.call('POST', '/api/v1/cas', { body: { certificatePem: ext.certPem } })).status).toBe(409);
      // A group cannot use a CA that has not proven possession yet.
      expect((await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'early', mechanism: 'ca', caId: reg.body.id } })).status).toBe(400);
      const wrongCn = await ssl.signedBy('vendor-ca', 'wrongcn', 'not-the-code');
      expect((await t.call('POST', `/api/v1/cas/${reg.body.id}/verify`, { body: { verificationCertificatePem: wrongCn.certPem } })).status).toBe(400);
      await ssl.ca('impostor-ca');
      const forged = await ssl.signedBy('impostor-ca', 'forged', reg.body.verificationCode);
      expect((await t.call('POST', `/api/v1/cas/${reg.body.id}/verify`, { body: { verificationCertificatePem: forged.certPem } })).status).toBe(400);
      const proofCert = await ssl.signedBy('vendor-ca', 'verification', reg.body.verificationCode);
      const verified = await t.call('POST', `/api/v1/cas/${reg.body.id}/verify`, { body: { verificationCertificatePem: proofCert.certPem } });
      expect(verified.body.status).toBe('active');

      const g = (await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'vendor devices', mechanism: 'ca', caId: reg.body.id } })).body;
      const device = await ssl.signedBy('vendor-ca', 'vendor-1', 'vendor-1');
      const nonce = randomBytes(12).toString('base64url');
      const timestamp = Date.now();
      const signature = await ssl.sign(device.keyPath, proofPayload(g.id, 'vendor-1', timestamp, nonce));
      const res = await provision({ enrollmentGroupId: g.id, deviceId: 'vendor-1', certificatePem: device.certPem, proof: { timestamp, nonce, signature } });
      expect(res.status).toBe(201);
      expect(res.body.credential.type).toBe('x509');
      expect((await t.call('GET', '/api/v1/devices/vendor-1/credentials')).body.items[0]).toMatchObject({ source: 'jit', status: 'active' });

      const stranger = await ssl.signedBy('impostor-ca', 'stranger', 'stranger-1');
      const n2 = randomBytes(12).toString('base64url');
      const s2 = await ssl.sign(stranger.keyPath, proofPayload(g.id, 'stranger-1', timestamp, n2));
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'stranger-1', certificatePem: stranger.certPem, proof: { timestamp, nonce: n2, signature: s2 } })).status).toBe(401);
      // A proof signed by some other key does not show possession of the certificate's key.
      const vendor2 = await ssl.signedBy('vendor-ca', 'vendor-2', 'vendor-2');
      const n3 = randomBytes(12).toString('base64url');
      const wrongKey = await ssl.sign(stranger.keyPath, proofPayload(g.id, 'vendor-2', timestamp, n3));
      expect((await provision({ enrollmentGroupId: g.id, deviceId: 'vendor-2', certificatePem: vendor2.certPem, proof: { timestamp, nonce: n3, signature: wrongKey } })).status).toBe(401);
      expect((await t.call('POST', '/api/v1/cas', { body: { certificatePem: 'garbage' } })).status).toBe(400);
      expect((await t.call('POST', '/api/v1/cas', { body: { certificatePem: vendor2.certPem } })).status).toBe(400);
    });

    it('slows down a source that keeps failing', async () => {
      const g = (await t.call('POST', '/api/v1/enrollment-groups', { body: { name: 'hammered', mechanism: 'claim_token' } })).body;
      let status = 0;
      for (let i = 0; i < 30 && status !== 429; i++) status = (await provision({ enrollmentGroupId: g.id, deviceId: `h-${i}`, claimToken: 'ct_guess' })).status;
      expect(status).toBe(429);
    });
  });
});
