import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig, Lwm2mRegistration } from '../core/lwm2m/ports.js';
import type { Stores } from '../core/stores.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../testing/test-store.js';

function registration(id: string, fields: Partial<Lwm2mRegistration> = {}): Lwm2mRegistration {
  return {
    id,
    tenantId: 'default',
    deviceId: 'dev-1',
    lifetimeSec: 60,
    lwm2mVersion: '1.1',
    binding: 'U',
    queueMode: false,
    smsNumber: null,
    rootPath: '/',
    objects: [
      { objectId: 1, instances: [0] },
      { objectId: 3, version: '1.1', instances: [0] },
    ],
    contentFormats: [110, 112],
    contact: { key: '127.0.0.1:5683', address: '127.0.0.1', port: 5683, secure: false },
    credentialId: 'lwm2m:nosec',
    sessionId: 's1',
    registeredAt: 1000,
    updatedAt: 1000,
    expiresAt: 61_000,
    ...fields,
  };
}

function config(id: string, fields: Partial<BootstrapConfig> = {}): BootstrapConfig {
  return {
    id,
    tenantId: 'default',
    deviceId: null,
    enrollmentGroupId: null,
    deleteExisting: true,
    servers: [{ shortServerId: 1, uri: 'coaps://hangar.example:5684', securityMode: 'psk', lifetimeSec: 300, binding: 'U', notificationStoring: true }],
    createdAt: 1,
    updatedAt: 1,
    ...fields,
  };
}

describe.each(STORE_KINDS)('the LwM2M store on %s', (kind) => {
  let ts: TestStore;
  let stores: Stores;

  beforeAll(async () => {
    ts = await openTestStore(kind);
    stores = ts.stores;
    await stores.tenancy.insertTenant({ id: 'default', name: 'Default', createdAt: 1 });
    await stores.tenancy.insertTenant({ id: 'other', name: 'Other', createdAt: 1 });
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  it('keeps one registration per device: a new Register replaces the old one and its location', async () => {
    const store = stores.lwm2m;
    await store.putRegistration(registration('reg_a'));
    expect(await store.getRegistration('default', 'dev-1')).toEqual(registration('reg_a'));
    expect(await store.findRegistration('reg_a')).toEqual(registration('reg_a'));
    expect(await store.getRegistration('other', 'dev-1')).toBeUndefined();

    await store.putRegistration(registration('reg_b', { lifetimeSec: 120, queueMode: true, binding: 'UQ', contact: { key: 'dtls:ab', address: '10.0.0.2', port: 40000, secure: true }, smsNumber: '+4912345' }));
    expect(await store.findRegistration('reg_a')).toBeUndefined();
    expect(await store.getRegistration('default', 'dev-1')).toMatchObject({ id: 'reg_b', queueMode: true, binding: 'UQ', smsNumber: '+4912345', contact: { secure: true, key: 'dtls:ab' } });

    // An update keeps the id and moves the expiry.
    await store.putRegistration(registration('reg_b', { updatedAt: 5000, expiresAt: 125_000 }));
    expect((await store.findRegistration('reg_b'))?.expiresAt).toBe(125_000);
  });

  it('deletes a registration only while it is still the same one, and lists the expired oldest first', async () => {
    const store = stores.lwm2m;
    await store.putRegistration(registration('reg_c', { deviceId: 'dev-2', expiresAt: 2000 }));
    await store.putRegistration(registration('reg_d', { deviceId: 'dev-3', expiresAt: 1500 }));
    expect((await store.listExpired(2000, 10)).map((r) => r.id)).toEqual(['reg_d', 'reg_c']);
    expect((await store.listExpired(2000, 1)).map((r) => r.id)).toEqual(['reg_d']);
    expect(await store.deleteRegistration('default', 'dev-2', 'reg_old')).toBe(false);
    expect(await store.deleteRegistration('other', 'dev-2', 'reg_c')).toBe(false);
    expect(await store.deleteRegistration('default', 'dev-2', 'reg_c')).toBe(true);
    expect(await store.deleteRegistration('default', 'dev-2', 'reg_c')).toBe(false);
    expect((await store.listExpired(2000, 10)).map((r) => r.id)).toEqual(['reg_d']);
  });

  it('stores bootstrap configurations per tenant and finds a device\'s own before its enrollment group\'s', async () => {
    const store = stores.lwm2m;
    await store.insertBootstrapConfig(config('bsc_group', { enrollmentGroupId: 'eg_1', createdAt: 2 }));
    await store.insertBootstrapConfig(config('bsc_dev', { deviceId: 'dev-9', deleteExisting: false, createdAt: 3 }));
    await store.insertBootstrapConfig(config('bsc_other', { tenantId: 'other', deviceId: 'dev-9' }));
    expect((await store.listBootstrapConfigs('default')).map((c) => c.id)).toEqual(['bsc_group', 'bsc_dev']);
    expect((await store.findBootstrapConfig('default', 'dev-9', 'eg_1'))?.id).toBe('bsc_dev');
    expect((await store.findBootstrapConfig('default', 'dev-8', 'eg_1'))?.id).toBe('bsc_group');
    expect(await store.findBootstrapConfig('default', 'dev-8', null)).toBeUndefined();
    expect(await store.getBootstrapConfig('default', 'bsc_dev')).toEqual(config('bsc_dev', { deviceId: 'dev-9', deleteExisting: false, createdAt: 3 }));

    const changed = config('bsc_dev', { deviceId: 'dev-9', deleteExisting: true, createdAt: 3, updatedAt: 9, servers: [] });
    expect(await store.updateBootstrapConfig(changed)).toBe(true);
    expect(await store.getBootstrapConfig('default', 'bsc_dev')).toEqual(changed);
    expect(await store.updateBootstrapConfig({ ...changed, tenantId: 'other', id: 'nope' })).toBe(false);
    expect(await store.deleteBootstrapConfig('other', 'bsc_dev')).toBe(false);
    expect(await store.deleteBootstrapConfig('default', 'bsc_dev')).toBe(true);
    expect(await store.getBootstrapConfig('default', 'bsc_dev')).toBeUndefined();
  });

  it('keeps uploaded object models per tenant, object and version; an upload of the same version replaces it', async () => {
    const store = stores.lwm2m;
    await store.putObjectModel({ tenantId: 'default', objectId: 10241, version: '1.0', name: 'A', ddfXml: '<a/>', createdAt: 1 });
    await store.putObjectModel({ tenantId: 'default', objectId: 10241, version: '1.1', name: 'B', ddfXml: '<b/>', createdAt: 2 });
    await store.putObjectModel({ tenantId: 'default', objectId: 10241, version: '1.0', name: 'A2', ddfXml: '<a2/>', createdAt: 3 });
    const listed = await store.listObjectModels('default');
    expect(listed.map((m) => [m.objectId, m.version, m.name, m.ddfXml])).toEqual([
      [10241, '1.0', 'A2', '<a2/>'],
      [10241, '1.1', 'B', '<b/>'],
    ]);
    expect(await store.listObjectModels('other')).toEqual([]);
    expect(await store.deleteObjectModel('default', 10241, '1.1')).toBe(true);
    expect(await store.deleteObjectModel('default', 10241, '1.1')).toBe(false);
  });
});
