import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode } from '@hangar/protocol/coap';
import { STORE_KINDS } from '../../testing/test-store.js';
import { startLwm2mFixture, waitFor, type Lwm2mFixture } from './lwm2m-fixture.js';
import { TinyLwm2mDevice } from './tiny-lwm2m-device.js';

const DDF = `<?xml version="1.0" encoding="utf-8"?>
<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://openmobilealliance.org/tech/profiles/LWM2M.xsd">
  <Object ObjectType="MODefinition">
    <Name>Hangar Test Valve</Name>
    <Description1>a valve</Description1>
    <ObjectID>32769</ObjectID>
    <ObjectURN>urn:oma:lwm2m:x:32769</ObjectURN>
    <ObjectVersion>1.0</ObjectVersion>
    <MultipleInstances>Multiple</MultipleInstances>
    <Mandatory>Optional</Mandatory>
    <Resources>
      <Item ID="0"><Name>Open</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Boolean</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description>open or shut</Description></Item>
      <Item ID="1"><Name>Flow</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Float</Type><RangeEnumeration></RangeEnumeration><Units>l/min</Units><Description>flow</Description></Item>
    </Resources>
  </Object>
</LWM2M>`;

describe.each(STORE_KINDS)('LwM2M object models and bootstrap on %s', (kind) => {
  let f: Lwm2mFixture;

  beforeAll(async () => {
    f = await startLwm2mFixture(kind);
    for (const id of ['bs-dev', 'bs-none']) await f.createDevice(id);
  });
  afterAll(async () => {
    await f.close();
  });

  it('lists the built-in registry and takes a DDF upload into the tenant registry; refuses a malformed one whole', async () => {
    const before = await f.t.call('GET', '/api/v1/lwm2m/objects');
    expect(before.status).toBe(200);
    expect(before.body.items.find((o: { id: number }) => o.id === 3303)).toMatchObject({ name: 'Temperature', source: 'builtin' });
    const up = await f.t.call('POST', '/api/v1/lwm2m/objects', { payload: DDF, headers: { 'content-type': 'application/xml' } });
    expect(up.status).toBe(201);
    expect(up.body.items).toEqual([{ id: 32769, name: 'Hangar Test Valve', version: '1.0' }]);
    const after = await f.t.call('GET', '/api/v1/lwm2m/objects');
    expect(after.body.items.find((o: { id: number }) => o.id === 32769)).toMatchObject({ source: 'uploaded', resources: [{ id: 0, name: 'Open', operations: 'RW', type: 'Boolean' }, { id: 1, name: 'Flow', units: 'l/min' }] });

    const bad = await f.t.call('POST', '/api/v1/lwm2m/objects', { payload: DDF.replace('<Type>Boolean</Type>', '<Type>Banana</Type>'), headers: { 'content-type': 'application/xml' } });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/Banana/);
    const notXml = await f.t.call('POST', '/api/v1/lwm2m/objects', { payload: 'hello', headers: { 'content-type': 'application/xml' } });
    expect(notXml.status).toBe(400);
    const json = await f.t.call('POST', '/api/v1/lwm2m/objects', { body: { x: 1 } });
    expect(json.status).toBe(415);
    expect((await f.t.call('DELETE', '/api/v1/lwm2m/objects/32769/1.0')).status).toBe(204);
    expect((await f.t.call('DELETE', '/api/v1/lwm2m/objects/32769/1.0')).status).toBe(404);
  });

  it('keeps bootstrap configurations: CRUD, one per device, refusals with the field named', async () => {
    const created = await f.t.call('POST', '/api/v1/lwm2m/bootstrap-configs', { body: { deviceId: 'bs-dev', servers: [{ uri: 'coap://127.0.0.1:5683', lifetimeSec: 120 }] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ deviceId: 'bs-dev', enrollmentGroupId: null, deleteExisting: true, servers: [{ shortServerId: 1, uri: 'coap://127.0.0.1:5683', securityMode: 'nosec', lifetimeSec: 120, binding: 'U', notificationStoring: true }] });
    const id = created.body.id as string;
    expect((await f.t.call('GET', `/api/v1/lwm2m/bootstrap-configs/${id}`)).body.id).toBe(id);
    expect((await f.t.call('GET', '/api/v1/lwm2m/bootstrap-configs')).body.items).toHaveLength(1);
    const dup = await f.t.call('POST', '/api/v1/lwm2m/bootstrap-configs', { body: { deviceId: 'bs-dev', servers: [{ uri: 'coap://h' }] } });
    expect(dup.status).toBe(409);
    const refusals: Array<[unknown, number, RegExp]> = [
      [{ servers: [{ uri: 'coap://h' }] }, 400, /exactly one/],
      [{ deviceId: 'bs-dev', enrollmentGroupId: 'g', servers: [{ uri: 'coap://h' }] }, 400, /exactly one/],
      [{ deviceId: 'ghost', servers: [{ uri: 'coap://h' }] }, 404, /ghost/],
      [{ enrollmentGroupId: 'eg_nope', servers: [{ uri: 'coap://h' }] }, 404, /eg_nope/],
      [{ deviceId: 'bs-none', servers: [{ uri: 'http://h' }] }, 400, /coap/],
      [{ deviceId: 'bs-none', servers: [{ uri: 'coap://h', securityMode: 'psk' }] }, 400, /does not go with coap/],
      [{ deviceId: 'bs-none', servers: [{ uri: 'coap://h', shortServerId: 1 }, { uri: 'coap://i', shortServerId: 1 }] }, 400, /twice/],
      [{ deviceId: 'bs-none', servers: [{ uri: 'coap://h', binding: 'ZZ' }] }, 400, /binding/],
      [{ deviceId: 'bs-none', servers: [] }, 400, /servers/],
    ];
    for (const [body, status, why] of refusals) {
      const res = await f.t.call('POST', '/api/v1/lwm2m/bootstrap-configs', { body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.detail ?? JSON.stringify(res.body)).toMatch(why);
    }
    const replaced = await f.t.call('PUT', `/api/v1/lwm2m/bootstrap-configs/${id}`, { body: { deleteExisting: false, servers: [{ uri: `coap://127.0.0.1:${f.port}`, shortServerId: 7, lifetimeSec: 90 }] } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ deviceId: 'bs-dev', deleteExisting: false, servers: [{ shortServerId: 7 }] });
  });

  it('bootstraps a NoSec device over plain CoAP: writes Security and Server instances, then Bootstrap-Finish', async () => {
    const d = new TinyLwm2mDevice();
    await d.start();
    try {
      const outcome = new Promise((resolve) => f.t.hangar.services.lwm2m!.bootstrap.onOutcome(resolve));
      const res = await d.send(f.port, CoapCode.POST, ['bs'], ['ep=bs-dev']);
      expect(res.code).toBe(CoapCode.Changed);
      expect(await outcome).toEqual({ deviceId: 'bs-dev', ok: true });
      const asked = d.log.map((l) => `${l.method}:${l.path}`);
      expect(asked).toEqual([`${CoapCode.PUT}:/0/1`, `${CoapCode.PUT}:/1/1`, `${CoapCode.POST}:/bs`]);
      expect(d.values.get('/0/1/0')?.value).toBe(`coap://127.0.0.1:${f.port}`);
      expect(d.values.get('/0/1/2')?.value).toBe(3);
      expect(d.values.get('/0/1/10')?.value).toBe(7);
      expect(d.values.get('/1/1/1')?.value).toBe(90);
      expect(d.values.get('/1/1/7')?.value).toBe('U');
    } finally {
      await d.stop();
    }
  });

  it('writes in the content format the Bootstrap-Request prefers (pct), and refuses a malformed pct', async () => {
    const d = new TinyLwm2mDevice();
    await d.start();
    try {
      const outcome = new Promise((resolve) => f.t.hangar.services.lwm2m!.bootstrap.onOutcome(resolve));
      expect((await d.send(f.port, CoapCode.POST, ['bs'], ['ep=bs-dev', 'pct=110'])).code).toBe(CoapCode.Changed);
      expect(await outcome).toEqual({ deviceId: 'bs-dev', ok: true });
      const writes = d.log.filter((l) => l.method === CoapCode.PUT);
      expect(writes.map((w) => w.format)).toEqual([110, 110]);
      expect((await d.send(f.port, CoapCode.POST, ['bs'], ['ep=bs-dev', 'pct=senml'])).code).toBe(CoapCode.BadRequest);
    } finally {
      await d.stop();
    }
  });

  it('refuses a bootstrap without a configuration (4.04), from an unknown endpoint (4.03), or without ep (4.00)', async () => {
    const d = new TinyLwm2mDevice();
    await d.start();
    try {
      const none = await d.send(f.port, CoapCode.POST, ['bs'], ['ep=bs-none']);
      expect(none.code).toBe(CoapCode.NotFound);
      expect(none.payload.toString()).toMatch(/no bootstrap configuration/);
      expect((await d.send(f.port, CoapCode.POST, ['bs'], ['ep=nobody'])).code).toBe(CoapCode.Forbidden);
      expect((await d.send(f.port, CoapCode.POST, ['bs'])).code).toBe(CoapCode.BadRequest);
      await waitFor(() => (d.log.length === 0 ? true : undefined), 'no request to a refused device');
    } finally {
      await d.stop();
    }
  });

  it('deletes a configuration', async () => {
    const list = await f.t.call('GET', '/api/v1/lwm2m/bootstrap-configs');
    const id = list.body.items[0].id as string;
    expect((await f.t.call('DELETE', `/api/v1/lwm2m/bootstrap-configs/${id}`)).status).toBe(204);
    expect((await f.t.call('GET', `/api/v1/lwm2m/bootstrap-configs/${id}`)).status).toBe(404);
  });
});
