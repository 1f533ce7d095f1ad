import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinObjectRegistry, type Lwm2mValue } from '@hangar/protocol/lwm2m';
import { openTestStore, type TestStore } from '../../testing/test-store.js';
import { newDevice } from '../registry/register-device.js';
import { Lwm2mEndpointAuth, NOSEC_CREDENTIAL } from './endpoint-auth.js';
import { reportedPatch, telemetryMessages } from './lwm2m-mapping.js';
import { valuesFromJson } from './json-values.js';

const registry = builtinObjectRegistry();
const val = (objectId: number, instanceId: number, resourceId: number, type: Lwm2mValue['type'], value: Lwm2mValue['value'], time?: number): Lwm2mValue => ({ path: { objectId, instanceId, resourceId }, type, value, ...(time !== undefined ? { time } : {}) });

describe('the LwM2M mapping onto Hangar\'s model', () => {
  it('names well-known IPSO values and keeps the raw path key; groups by device time; skips opaque values', () => {
    const messages = telemetryMessages([val(3303, 0, 5700, 'Float', 21.5), val(3303, 1, 5700, 'Float', 19, 1_700_000_000), val(3, 0, 9, 'Integer', 80), val(3, 0, 0, 'String', 'Acme'), val(5, 0, 0, 'Opaque', Buffer.from('x'))], registry);
    expect(messages).toEqual([
      { values: { '3303.0.5700': 21.5, temperature: 21.5, '3.0.9': 80, battery: 80, '3.0.0': 'Acme' } },
      { ts: 1_700_000_000_000, values: { '3303.1.5700': 19, temperature_1: 19 } },
    ]);
  });

  it('reports values nested by path, Object 3 as device info and firmwareVersion, and never the Security object', () => {
    expect(reportedPatch([val(3, 0, 0, 'String', 'Acme'), val(3, 0, 3, 'String', '2.0.1'), val(3303, 0, 5700, 'Float', 20), val(0, 1, 5, 'Opaque', Buffer.from('secret'))])).toEqual({
      lwm2m: { '3': { '0': { '0': 'Acme', '3': '2.0.1' } }, '3303': { '0': { '5700': 20 } } },
      deviceInfo: { manufacturer: 'Acme' },
      firmwareVersion: '2.0.1',
    });
    expect(reportedPatch([])).toEqual({});
  });

  it('types REST JSON by the registry and refuses what does not fit', () => {
    expect(valuesFromJson({ objectId: 3311, instanceId: 0 }, { '5850': true }, registry)).toEqual([val(3311, 0, 5850, 'Boolean', true)]);
    expect(() => valuesFromJson({ objectId: 3311, instanceId: 0 }, { '5850': 'yes' }, registry)).toThrow(/true or false/);
    expect(() => valuesFromJson({ objectId: 3303, instanceId: 0, resourceId: 5700 }, 1, registry)).toThrow(/not writable/);
    expect(() => valuesFromJson({ objectId: 40000, instanceId: 0 }, { '1': 1 }, registry)).toThrow(/not in this tenant's registry/);
    expect(() => valuesFromJson({ objectId: 3311 }, { '5850': true }, registry)).toThrow(/instance/);
    expect(valuesFromJson({ objectId: 3303, instanceId: 0 }, { '5700': 1.5 }, registry, { create: true })).toEqual([val(3303, 0, 5700, 'Float', 1.5)]);
  });
});

describe('who may speak LwM2M as an endpoint', () => {
  let ts: TestStore;
  let auth: Lwm2mEndpointAuth;

  beforeAll(async () => {
    ts = await openTestStore('sqlite');
    await ts.stores.tenancy.insertTenant({ id: 'default', name: 'Default', createdAt: 1 });
    await ts.stores.devices.insert(newDevice('default', { id: 'plain' }, 1));
    auth = new Lwm2mEndpointAuth(ts.stores);
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  it('over DTLS: the endpoint name must be the authenticated device (else 4.03)', async () => {
    const principal = { tenantId: 'default', deviceId: 'plain', credentialId: 'cred_1' };
    await expect(auth.authorize('plain', principal, '1.2.3.4')).resolves.toBe(principal);
    await expect(auth.authorize('other-device', principal, '1.2.3.4')).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/belongs to device "plain"/) });
  });

  it('over plain CoAP: an existing active device without psk/x509 credentials registers NoSec', async () => {
    await expect(auth.authorize('plain', undefined, '1.2.3.4')).resolves.toEqual({ tenantId: 'default', deviceId: 'plain', credentialId: NOSEC_CREDENTIAL });
    await expect(auth.authorize('ghost', undefined, '1.2.3.4')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
