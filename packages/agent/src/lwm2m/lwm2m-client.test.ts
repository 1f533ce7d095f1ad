import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:http';
import { CoapCode, CoapOptionNumber, decodeBlock, encodeBlock, encodeUint, type CoapOption } from '@hangar/protocol/coap';
import { Lwm2mContentFormat, builtinObjectRegistry, decodeContent, encodeContent, encodeCompositePaths, parseLinkFormat, parseRegistrationLinks, type Lwm2mValue } from '@hangar/protocol/lwm2m';
import { Lwm2mTestServer, contentFormatOf, type Notification, type Peer } from '../testing/lwm2m-test-server.js';
import { startLibcoapServer } from '../testing/libcoap-server.js';
import { Lwm2mClient, type Lwm2mClientOptions } from './lwm2m-client.js';

const registry = builtinObjectRegistry();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const cf = (format: number): CoapOption => ({ number: CoapOptionNumber.ContentFormat, value: encodeUint(format) });
const accept = (format: number): CoapOption => ({ number: CoapOptionNumber.Accept, value: encodeUint(format) });

async function testServer(): Promise<Lwm2mTestServer> {
  const server = new Lwm2mTestServer();
  await server.listen();
  cleanups.push(() => server.close());
  return server;
}

async function startedClient(server: Lwm2mTestServer, options: Partial<Lwm2mClientOptions> = {}): Promise<{ client: Lwm2mClient; peer: Peer }> {
  const client = new Lwm2mClient({ endpointName: 'dev-lwm2m-1', serverUri: server.uri, lifetimeSec: 120, timing: { ackTimeoutMs: 300 }, ...options });
  cleanups.push(() => client.stop());
  await client.start();
  const register = await server.waitFor((r) => r.path.join('/') === 'rd' && r.code === CoapCode.POST);
  return { client, peer: register.peer };
}

/** Collects notifications and lets the test wait for one that matches. */
function notificationLog(): { onNotify: (n: Notification) => void; next(match: (n: Notification) => boolean): Promise<Notification>; all: Notification[] } {
  const all: Notification[] = [];
  const waiters: { match: (n: Notification) => boolean; resolve: (n: Notification) => void }[] = [];
  return {
    all,
    onNotify: (n) => {
      all.push(n);
      for (const w of [...waiters]) {
        if (!w.match(n)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(n);
      }
    },
    next: (match) => {
      const seen = all.find(match);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

const valueAt = (values: Lwm2mValue[], path: string): unknown => values.find((v) => `/${[v.path.objectId, v.path.instanceId, v.path.resourceId, v.path.resourceInstanceId].filter((x) => x !== undefined).join('/')}` === path)?.value;

describe('Lwm2mClient registration', () => {
  it('registers with its endpoint name, lifetime, LwM2M 1.1 and a link format of its objects (no Security object)', async () => {
    const server = await testServer();
    const { client } = await startedClient(server);
    const register = server.received.find((r) => r.path.join('/') === 'rd')!;
    expect(register.query).toEqual(['ep=dev-lwm2m-1', 'lt=120', 'lwm2m=1.1', 'b=U']);
    expect(contentFormatOf(register.options)).toBe(Lwm2mContentFormat.linkFormat);
    const links = parseRegistrationLinks(register.payload.toString());
    expect(links.rootPath).toBe('/');
    expect(links.contentFormats).toEqual(expect.arrayContaining([11542, 110, 112]));
    expect(links.objects.map((o) => [o.objectId, o.instances])).toEqual([
      [1, [0]],
      [3, [0]],
      [5, [0]],
      [3303, [0]],
    ]);
    expect(client.registrationLocation).toBe('/rd/r1');
    // Update goes to the location; De-register on stop.
    await client.update();
    expect(server.received.some((r) => r.path.join('/') === 'rd/r1' && r.code === CoapCode.POST)).toBe(true);
    await client.stop();
    expect(server.received.some((r) => r.path.join('/') === 'rd/r1' && r.code === CoapCode.DELETE)).toBe(true);
    expect(client.stats).toMatchObject({ registrations: 1, updates: 1 });
  });

  it('updates by itself before the lifetime ends, and registers again when the server forgot it (4.04)', async () => {
    const server = await testServer();
    let forget = false;
    server.responder = (req) => (forget && req.path.join('/') === 'rd/r1' ? { code: CoapCode.NotFound } : undefined);
    const { client } = await startedClient(server, { updateIntervalSec: 0.2 });
    await server.waitFor((r) => r.path.join('/') === 'rd/r1' && r.code === CoapCode.POST);
    forget = true;
    await server.waitFor((r) => r.path.join('/') === 'rd/r2' && r.code === CoapCode.POST);
    expect(client.stats.registrations).toBeGreaterThanOrEqual(2);
  });

  it('says why when the server refuses the registration, and queue mode registers with Q', async () => {
    const server = await testServer();
    server.responder = (req) => (req.path[0] === 'rd' ? { code: CoapCode.Forbidden, payload: Buffer.from('use DTLS') } : undefined);
    const client = new Lwm2mClient({ endpointName: 'dev-q', serverUri: server.uri, queueMode: true });
    cleanups.push(() => client.stop());
    await expect(client.start()).rejects.toThrow(/Register refused: 4\.03: use DTLS/);
    expect(client.stats.registrationFailures).toBe(1);
    expect(server.received[0]!.query).toContain('Q');
    expect(() => new Lwm2mClient({ endpointName: 'x', serverUri: 'coaps://127.0.0.1:5684' })).toThrow(/PSK/);
  });

  it('bootstraps: Bootstrap-Request, Bootstrap-Delete/Discover/Write of Security and Server, Finish, then registers where it was told', async () => {
    const bootstrap = await testServer();
    const dm = await testServer();
    const client = new Lwm2mClient({ endpointName: 'dev-bs', bootstrapUri: bootstrap.uri, timing: { ackTimeoutMs: 300 }, bootstrapTimeoutMs: 20_000 });
    cleanups.push(() => client.stop());
    let script: Promise<void> | undefined;
    bootstrap.responder = (req) => {
      if (req.path[0] !== 'bs') return undefined;
      // The bootstrap server's script runs once the Bootstrap-Request was answered.
      script = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        const peer = req.peer;
        expect((await bootstrap.request(peer, { code: CoapCode.DELETE, path: [] })).code).toBe(CoapCode.Deleted);
        const discover = await bootstrap.request(peer, { code: CoapCode.GET, path: [], options: [accept(40)] });
        expect(parseLinkFormat(discover.payload.toString())[0]).toEqual({ target: '/', attributes: { lwm2m: '1.1' } });
        // Finishing before a management server was written is refused (4.06).
        expect((await bootstrap.request(peer, { code: CoapCode.POST, path: ['bs'] })).code).toBe(CoapCode.NotAcceptable);
        const security: Lwm2mValue[] = [
          { path: { objectId: 0, instanceId: 1, resourceId: 0 }, type: 'String', value: dm.uri },
          { path: { objectId: 0, instanceId: 1, resourceId: 1 }, type: 'Boolean', value: false },
          { path: { objectId: 0, instanceId: 1, resourceId: 2 }, type: 'Integer', value: 3 },
          { path: { objectId: 0, instanceId: 1, resourceId: 10 }, type: 'Integer', value: 7 },
        ];
        const w1 = await bootstrap.request(peer, { code: CoapCode.PUT, path: ['0', '1'], options: [cf(11542)], payload: encodeContent(11542, security, { objectId: 0, instanceId: 1 }, registry) });
        expect(w1.code).toBe(CoapCode.Changed);
        const serverValues: Lwm2mValue[] = [
          { path: { objectId: 1, instanceId: 0, resourceId: 0 }, type: 'Integer', value: 7 },
          { path: { objectId: 1, instanceId: 0, resourceId: 1 }, type: 'Integer', value: 77 },
          { path: { objectId: 1, instanceId: 0, resourceId: 6 }, type: 'Boolean', value: false },
          { path: { objectId: 1, instanceId: 0, resourceId: 7 }, type: 'String', value: 'U' },
        ];
        const w2 = await bootstrap.request(peer, { code: CoapCode.PUT, path: ['1', '0'], options: [cf(110)], payload: encodeContent(110, serverValues, { objectId: 1, instanceId: 0 }, registry) });
        expect(w2.code).toBe(CoapCode.Changed);
        expect((await bootstrap.request(peer, { code: CoapCode.POST, path: ['bs'] })).code).toBe(CoapCode.Changed);
      });
      return undefined;
    };
    const started = client.start();
    await bootstrap.waitFor((r) => r.path[0] === 'bs');
    await Promise.all([started, script]);
    expect(bootstrap.received[0]).toMatchObject({ code: CoapCode.POST, path: ['bs'] });
    expect(bootstrap.received[0]!.query).toContain('ep=dev-bs');
    const register = await dm.waitFor((r) => r.path.join('/') === 'rd');
    expect(register.query).toEqual(['ep=dev-bs', 'lt=77', 'lwm2m=1.1', 'b=U']);
  });
});

describe('Lwm2mClient queue mode', () => {
  it('does not hear requests while asleep, and does once awake again', async () => {
    const server = await testServer();
    const asleep = await startedClient(server, { endpointName: 'dev-sleepy', queueMode: true, queueAwakeMs: 0 });
    await expect(server.request(asleep.peer, { code: CoapCode.GET, path: ['3', '0', '0'] })).rejects.toThrow(/no answer/);
    const other = await testServer();
    const awake = await startedClient(other, { endpointName: 'dev-awake', queueMode: true });
    expect((await other.request(awake.peer, { code: CoapCode.GET, path: ['3', '0', '0'] })).code).toBe(CoapCode.Content);
  });
});

describe('Lwm2mClient over DTLS', () => {
  it('registers through a DTLS PSK session (libcoap coap-server-openssl is no LwM2M server: its CoAP answer comes back through the session)', async () => {
    const libcoap = await startLibcoapServer({ psk: { identityHint: 'hangar', key: 'lwm2m-psk-secret-1' } });
    cleanups.push(() => libcoap.stop());
    const client = new Lwm2mClient({ endpointName: 'dtls-dev', serverUri: `coaps://127.0.0.1:${libcoap.dtlsPort}`, psk: { identity: 'dtls-dev', key: Buffer.from('lwm2m-psk-secret-1') } });
    cleanups.push(() => client.stop());
    await expect(client.start()).rejects.toThrow(/^Register refused: 4\.\d\d/);
    const wrong = new Lwm2mClient({ endpointName: 'dtls-dev', serverUri: `coaps://127.0.0.1:${libcoap.dtlsPort}`, psk: { identity: 'dtls-dev', key: Buffer.from('not-the-right-key!') }, handshakeTimeoutMs: 3000 });
    cleanups.push(() => wrong.stop());
    await expect(wrong.start()).rejects.toThrow(/DTLS handshake/);
  });
});

describe('Lwm2mClient device management', () => {
  it('answers Read of /3/0 in TLV and SenML JSON, single resources as text, and refuses what it cannot', async () => {
    const server = await testServer();
    const { peer } = await startedClient(server, { device: { manufacturer: 'Acme', model: 'M1', firmwareVersion: '1.2.3' } });
    for (const format of [Lwm2mContentFormat.tlv, Lwm2mContentFormat.senmlJson, Lwm2mContentFormat.senmlCbor]) {
      const response = await server.request(peer, { code: CoapCode.GET, path: ['3', '0'], options: [accept(format)] });
      expect(response.code).toBe(CoapCode.Content);
      expect(contentFormatOf(response.options)).toBe(format);
      const values = decodeContent(format, response.payload, { objectId: 3, instanceId: 0 }, registry);
      expect(valueAt(values, '/3/0/0')).toBe('Acme');
      expect(valueAt(values, '/3/0/1')).toBe('M1');
      expect(valueAt(values, '/3/0/2')).toBe('dev-lwm2m-1');
      expect(valueAt(values, '/3/0/3')).toBe('1.2.3');
      expect(valueAt(values, '/3/0/9')).toBe(100);
    }
    const text = await server.request(peer, { code: CoapCode.GET, path: ['3', '0', '3'] });
    expect([text.code, contentFormatOf(text.options), text.payload.toString()]).toEqual([CoapCode.Content, 0, '1.2.3']);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['99'] })).code).toBe(CoapCode.NotFound);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['3', '0', '4'] })).code).toBe(CoapCode.MethodNotAllowed);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['0'] })).code).toBe(CoapCode.Unauthorized);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['3', '0'], options: [accept(0)] })).code).toBe(CoapCode.NotAcceptable);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['3', 'x'] })).code).toBe(CoapCode.NotFound);
  });

  it('Create and Delete an instance, with the new object links in the next Update; Reboot registers again', async () => {
    const server = await testServer();
    const { client, peer } = await startedClient(server);
    const values: Lwm2mValue[] = [{ path: { objectId: 3303, instanceId: 1, resourceId: 5701 }, type: 'String', value: 'Far' }];
    const created = await server.request(peer, { code: CoapCode.POST, path: ['3303'], options: [cf(11542)], payload: encodeContent(11542, values, { objectId: 3303 }, registry) });
    expect(created.code).toBe(CoapCode.Created);
    expect(created.options.filter((o) => o.number === CoapOptionNumber.LocationPath).map((o) => o.value.toString())).toEqual(['3303', '1']);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['3303', '1', '5701'] })).payload.toString()).toBe('Far');
    await client.update();
    const update = server.received.find((r) => r.path.join('/') === 'rd/r1')!;
    expect(parseRegistrationLinks(update.payload.toString()).objects.find((o) => o.objectId === 3303)!.instances).toEqual([0, 1]);
    expect((await server.request(peer, { code: CoapCode.DELETE, path: ['3303', '1'] })).code).toBe(CoapCode.Deleted);
    expect((await server.request(peer, { code: CoapCode.DELETE, path: ['3303', '1'] })).code).toBe(CoapCode.NotFound);
    expect((await server.request(peer, { code: CoapCode.DELETE, path: ['3', '0'] })).code).toBe(CoapCode.MethodNotAllowed);
    expect((await server.request(peer, { code: CoapCode.POST, path: ['3303'], options: [cf(11542)], payload: encodeContent(11542, [{ path: { objectId: 3303, instanceId: 0, resourceId: 5701 }, type: 'String', value: 'x' }], { objectId: 3303 }, registry) })).code).toBe(CoapCode.BadRequest);
    expect((await server.request(peer, { code: CoapCode.POST, path: ['3', '0', '4'] })).code).toBe(CoapCode.Changed);
    await server.waitFor((r) => r.path.join('/') === 'rd' && r !== server.received.find((x) => x.path.join('/') === 'rd'));
    await waitUntil(async () => client.registrationLocation === '/rd/r2');
  });

  it('survives garbage and malformed payloads: each refused, nothing changed, the next request answered', async () => {
    const server = await testServer();
    const { client, peer } = await startedClient(server);
    const noise = createSocket('udp4');
    cleanups.push(() => new Promise((r) => noise.close(() => r())));
    await new Promise<void>((r) => noise.bind(0, '127.0.0.1', () => r()));
    // The client's socket is connected to its server, so datagrams from elsewhere never reach it; the server's own garbage does.
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const socket = (server as unknown as { socket: Socket }).socket;
    for (let i = 0; i < 300; i += 1) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256)));
      socket.send(bytes, peer.port, peer.address);
      noise.send(bytes, peer.port, peer.address);
    }
    const bad: [string, Buffer, number][] = [
      ['SenML JSON', Buffer.from('[{"bn":"/1/0/","n":"1","v":'), Lwm2mContentFormat.senmlJson],
      ['SenML CBOR', Buffer.from([0x81, 0xa2, 0x00]), Lwm2mContentFormat.senmlCbor],
      ['TLV', Buffer.from([0xe8, 0x00, 0x01]), Lwm2mContentFormat.tlv],
      ['path outside', encodeContent(Lwm2mContentFormat.senmlJson, [{ path: { objectId: 1, instanceId: 0, resourceId: 1 }, type: 'Integer', value: 5 }], { objectId: 1, instanceId: 0 }, registry), Lwm2mContentFormat.senmlJson],
    ];
    for (const [what, payload, format] of bad) {
      const path = what === 'path outside' ? ['3303', '0'] : ['1', '0'];
      const response = await server.request(peer, { code: CoapCode.POST, path, options: [cf(format)], payload });
      expect([what, response.code]).toEqual([what, CoapCode.BadRequest]);
    }
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['1', '0', '1'], options: [cf(1234)], payload: Buffer.from('1') })).code).toBe(CoapCode.UnsupportedContentFormat);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['1', '0', '1'] })).payload.toString()).toBe('120');
    expect(client.registered).toBe(true);
  });

  it('Discover lists the resources with their attributes', async () => {
    const server = await testServer();
    const { peer } = await startedClient(server);
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['3303', '0', '5700'], query: ['pmin=1', 'pmax=30'] })).code).toBe(CoapCode.Changed);
    const response = await server.request(peer, { code: CoapCode.GET, path: ['3303', '0'], options: [accept(40)] });
    const links = parseLinkFormat(response.payload.toString());
    expect(links[0]!.target).toBe('/3303/0');
    expect(links.find((l) => l.target === '/3303/0/5700')!.attributes).toEqual({ pmin: 1, pmax: 30 });
  });

  it('Write replaces and updates, Execute runs, and a bad payload changes nothing', async () => {
    const server = await testServer();
    const { client, peer } = await startedClient(server);
    const lifetime: Lwm2mValue[] = [{ path: { objectId: 1, instanceId: 0, resourceId: 1 }, type: 'Integer', value: 600 }];
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['1', '0', '1'], options: [cf(0)], payload: Buffer.from('600') })).code).toBe(CoapCode.Changed);
    expect((await server.request(peer, { code: CoapCode.POST, path: ['1', '0'], options: [cf(11542)], payload: encodeContent(11542, lifetime, { objectId: 1, instanceId: 0 }, registry) })).code).toBe(CoapCode.Changed);
    await client.update();
    expect(server.received.find((r) => r.path.join('/') === 'rd/r1')!.query).toEqual(['lt=600']);
    // Read-only resource, malformed TLV, missing Content-Format.
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['3', '0', '0'], options: [cf(0)], payload: Buffer.from('x') })).code).toBe(CoapCode.MethodNotAllowed);
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['1', '0'], options: [cf(11542)], payload: Buffer.from([0xc8, 0x01, 0x09]) })).code).toBe(CoapCode.BadRequest);
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['1', '0', '1'], payload: Buffer.from('5') })).code).toBe(CoapCode.BadRequest);
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['1', '0', '1'], options: [cf(0)], payload: Buffer.from('abc') })).code).toBe(CoapCode.BadRequest);
    const after = await server.request(peer, { code: CoapCode.GET, path: ['1', '0', '1'] });
    expect(after.payload.toString()).toBe('600');
    // Execute: Reset Min/Max of the temperature; a non-executable resource is 4.05.
    expect((await server.request(peer, { code: CoapCode.POST, path: ['3303', '0', '5605'] })).code).toBe(CoapCode.Changed);
    expect((await server.request(peer, { code: CoapCode.POST, path: ['3303', '0', '5700'] })).code).toBe(CoapCode.MethodNotAllowed);
    // Registration Update Trigger: the client sends an Update at once.
    const updatesBefore = server.received.filter((r) => r.path.join('/') === 'rd/r1').length;
    expect((await server.request(peer, { code: CoapCode.POST, path: ['1', '0', '8'] })).code).toBe(CoapCode.Changed);
    await server.waitFor((r) => r.path.join('/') === 'rd/r1' && server.received.filter((x) => x.path.join('/') === 'rd/r1').length > updatesBefore);
    // Write-Attributes refuses pmax < pmin.
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['3303', '0', '5700'], query: ['pmin=10', 'pmax=5'] })).code).toBe(CoapCode.BadRequest);
  });

  it('notifies an observer when the temperature changes, and forgets observations when it stops', async () => {
    const server = await testServer();
    const { client, peer } = await startedClient(server);
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['3303', '0', '5700'], query: ['pmin=0'] })).code).toBe(CoapCode.Changed);
    const log = notificationLog();
    const { first } = await server.observe(peer, { code: CoapCode.GET, path: ['3303', '0', '5700'], options: [accept(Lwm2mContentFormat.senmlCbor)] }, log.onNotify);
    expect(first.code).toBe(CoapCode.Content);
    expect(first.observe).toBeDefined();
    client.readTemperature();
    const n = await log.next(() => true);
    const values = decodeContent(Lwm2mContentFormat.senmlCbor, n.payload, { objectId: 3303, instanceId: 0, resourceId: 5700 }, registry);
    expect(values[0]!.value).toBe(client.temperature.value);
    expect(n.observe!).toBeGreaterThan(first.observe!);
    expect(client.observationCount).toBe(1);
    await client.stop();
    expect(client.observationCount).toBe(0);
  });

  it('cancels an observation on GET with Observe 1 and Observe-Composite reports several paths', async () => {
    const server = await testServer();
    const { client, peer } = await startedClient(server);
    const log = notificationLog();
    const single = await server.observe(peer, { code: CoapCode.GET, path: ['3303', '0', '5700'] }, log.onNotify);
    expect(client.observationCount).toBe(1);
    const cancelled = await single.cancel();
    expect(cancelled.code).toBe(CoapCode.Content);
    expect(client.observationCount).toBe(0);
    const paths = encodeCompositePaths(Lwm2mContentFormat.senmlJson, [{ objectId: 3303, instanceId: 0, resourceId: 5700 }, { objectId: 3, instanceId: 0, resourceId: 9 }]);
    const composite = await server.observe(peer, { code: CoapCode.FETCH, path: [], options: [cf(Lwm2mContentFormat.senmlJson), accept(Lwm2mContentFormat.senmlJson)], payload: paths }, log.onNotify);
    const values = decodeContent(Lwm2mContentFormat.senmlJson, composite.first.payload, {}, registry);
    expect(valueAt(values, '/3/0/9')).toBe(100);
    expect(valueAt(values, '/3303/0/5700')).toBe(client.temperature.value);
    client.readTemperature();
    const n = await log.next(() => true);
    expect(decodeContent(Lwm2mContentFormat.senmlJson, n.payload, {}, registry)).toHaveLength(2);
  });

  it('Send posts SenML CBOR to /dp', async () => {
    const server = await testServer();
    const { client } = await startedClient(server);
    await client.send(['/3303/0/5700', '/3/0/9']);
    const dp = await server.waitFor((r) => r.path.join('/') === 'dp');
    expect(contentFormatOf(dp.options)).toBe(Lwm2mContentFormat.senmlCbor);
    const values = decodeContent(Lwm2mContentFormat.senmlCbor, dp.payload, {}, registry);
    expect(valueAt(values, '/3303/0/5700')).toBe(client.temperature.value);
    expect(valueAt(values, '/3/0/9')).toBe(100);
  });
});

describe('Lwm2mClient firmware update (Object 5)', () => {
  async function observeState(server: Lwm2mTestServer, peer: Peer): Promise<ReturnType<typeof notificationLog>> {
    const log = notificationLog();
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['5', '0', '3'], query: ['pmin=0'] })).code).toBe(CoapCode.Changed);
    const { first } = await server.observe(peer, { code: CoapCode.GET, path: ['5', '0', '3'] }, log.onNotify);
    expect(first.payload.toString()).toBe('0');
    return log;
  }
  const stateSeen = (log: ReturnType<typeof notificationLog>, state: number): Promise<Notification> => log.next((n) => n.payload.toString() === String(state));

  it('takes a package pushed by Block1: State 0 → 1 → 2, Update → 3 → 0 with Update Result 1 and the new version', async () => {
    const server = await testServer();
    const { client, peer } = await startedClient(server, { device: { firmwareVersion: '1.0.0' } });
    const log = await observeState(server, peer);
    const pkg = Buffer.concat([Buffer.from('HANGAR firmware version=2.0.0\n'), Buffer.alloc(3000, 0x5a)]);
    const write = await server.request(peer, { code: CoapCode.PUT, path: ['5', '0', '0'], options: [cf(Lwm2mContentFormat.opaque)], payload: pkg, block1Szx: 4 });
    expect(write.code).toBe(CoapCode.Changed);
    await stateSeen(log, 1);
    await stateSeen(log, 2);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['5', '0', '7'] })).payload.toString()).toBe('2.0.0');
    expect((await server.request(peer, { code: CoapCode.POST, path: ['5', '0', '2'] })).code).toBe(CoapCode.Changed);
    await stateSeen(log, 3);
    await stateSeen(log, 0);
    expect(log.all.map((n) => n.payload.toString())).toEqual(['1', '2', '3', '0']);
    // The device restarts on the new firmware and registers again, where the server reads Object 3.
    const again = await server.waitFor((r) => r.path.join('/') === 'rd' && r.query[0] === 'ep=dev-lwm2m-1' && r.peer.port !== peer.port);
    expect(client.device.firmwareVersion).toBe('2.0.0');
    await waitUntil(async () => client.registrationLocation === '/rd/r2');
    expect((await server.request(again.peer, { code: CoapCode.GET, path: ['5', '0', '5'] })).payload.toString()).toBe('1');
    expect((await server.request(again.peer, { code: CoapCode.GET, path: ['3', '0', '3'] })).payload.toString()).toBe('2.0.0');
    // Update in Idle is refused.
    expect((await server.request(again.peer, { code: CoapCode.POST, path: ['5', '0', '2'] })).code).toBe(CoapCode.MethodNotAllowed);
  });

  it('abandons a push whose blocks stop coming: back to Idle with Update Result 4', async () => {
    const server = await testServer();
    const { client, peer } = await startedClient(server, { firmware: { pushStallMs: 100 } });
    const first = await server.request(peer, { code: CoapCode.PUT, path: ['5', '0', '0'], options: [cf(42), { number: CoapOptionNumber.Block1, value: encodeBlock({ num: 0, more: true, szx: 4 }) }], payload: Buffer.alloc(256, 1) });
    expect(first.code).toBe(CoapCode.Continue);
    await waitUntil(async () => client.firmware.result === 4);
    expect(client.firmware.state).toBe(0);
  });

  it('pulls a Package URI over CoAP Block2, and reports an unreachable or unsupported URI in Update Result', async () => {
    const server = await testServer();
    const image = Buffer.alloc(5000, 0x33);
    server.responder = (req) => {
      if (req.path[0] !== 'fw' || req.code !== CoapCode.GET) return undefined;
      if (req.path[1] !== 'app-3.1.0.bin') return { code: CoapCode.NotFound };
      const raw = req.options.find((o) => o.number === CoapOptionNumber.Block2);
      const block = raw ? decodeBlock(raw.value)! : { num: 0, more: false, szx: 6 };
      const size = 1 << (block.szx + 4);
      const more = (block.num + 1) * size < image.length;
      return { code: CoapCode.Content, options: [{ number: CoapOptionNumber.Block2, value: encodeBlock({ num: block.num, more, szx: block.szx }) }], payload: image.subarray(block.num * size, (block.num + 1) * size) };
    };
    const { client, peer } = await startedClient(server);
    const log = await observeState(server, peer);
    const writeUri = (uri: string): Promise<{ code: number }> => server.request(peer, { code: CoapCode.PUT, path: ['5', '0', '1'], options: [cf(0)], payload: Buffer.from(uri) });
    expect((await writeUri(`${server.uri}/fw/app-3.1.0.bin`)).code).toBe(CoapCode.Changed);
    await stateSeen(log, 2);
    expect((await server.request(peer, { code: CoapCode.GET, path: ['5', '0', '7'] })).payload.toString()).toBe('3.1.0');
    expect((await server.request(peer, { code: CoapCode.POST, path: ['5', '0', '2'] })).code).toBe(CoapCode.Changed);
    await log.next((n, i = log.all.indexOf(n)) => n.payload.toString() === '0' && i > 0);
    expect(client.device.firmwareVersion).toBe('3.1.0');
    await waitUntil(async () => client.registrationLocation === '/rd/r2');
    const again = server.received.filter((r) => r.path.join('/') === 'rd').at(-1)!.peer;
    // A URI that is not there: back to Idle with Update Result 7 (invalid URI).
    expect((await server.request(again, { code: CoapCode.PUT, path: ['5', '0', '1'], options: [cf(0)], payload: Buffer.from(`${server.uri}/fw/missing.bin`) })).code).toBe(CoapCode.Changed);
    await waitUntil(async () => client.firmware.result === 7);
    expect(client.firmware.state).toBe(0);
    const writeAgain = (uri: string): Promise<{ code: number }> => server.request(again, { code: CoapCode.PUT, path: ['5', '0', '1'], options: [cf(0)], payload: Buffer.from(uri) });
    await writeAgain('');
    expect((await writeAgain('ftp://example.invalid/x')).code).toBe(CoapCode.Changed);
    await waitUntil(async () => client.firmware.result === 9);
  });

  it('pulls over HTTP, and injected failures show as Update Results 5 and 8', async () => {
    const image = Buffer.alloc(2048, 0x44);
    const http = createServer((req, res) => {
      res.writeHead(200, { 'content-length': image.length });
      res.end(image);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => http.close(() => r())));
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/firmware/4.0.0/image.bin`;
    const server = await testServer();
    const { client, peer } = await startedClient(server, { firmware: { failures: { update: true } } });
    expect((await server.request(peer, { code: CoapCode.PUT, path: ['5', '0', '1'], options: [cf(0)], payload: Buffer.from(url) })).code).toBe(CoapCode.Changed);
    await waitUntil(async () => client.firmware.state === 2);
    expect((await server.request(peer, { code: CoapCode.POST, path: ['5', '0', '2'] })).code).toBe(CoapCode.Changed);
    await waitUntil(async () => client.firmware.result === 8);
    expect(client.firmware.state).toBe(2);
    expect(client.device.firmwareVersion).toBe('1.0.0');

    const other = await testServer();
    const second = await startedClient(other, { endpointName: 'dev-2', firmware: { failures: { integrity: true } } });
    expect((await other.request(second.peer, { code: CoapCode.PUT, path: ['5', '0', '1'], options: [cf(0)], payload: Buffer.from(url) })).code).toBe(CoapCode.Changed);
    await waitUntil(async () => second.client.firmware.result === 5);
    expect(second.client.firmware.state).toBe(0);
  });
});

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
