import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoapCode, CoapOptionNumber, encodeUint } from '@hangar/protocol/coap';
import { builtinObjectRegistry, encodeContent, type Lwm2mValue } from '@hangar/protocol/lwm2m';
import { Lwm2mTestServer } from '../testing/lwm2m-test-server.js';
import { Lwm2mFleet, runLwm2mFleet } from './lwm2m-fleet.js';
import { Lwm2mUsageError, parsePskFile, planLwm2mSimulation } from './lwm2m-simulate.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function testServer(): Promise<Lwm2mTestServer> {
  const server = new Lwm2mTestServer();
  await server.listen();
  cleanups.push(() => server.close());
  return server;
}

describe('LwM2M fleet', () => {
  it('registers N clients with their endpoint names, counts notifications, and de-registers them all on stop', async () => {
    const server = await testServer();
    const names = Array.from({ length: 20 }, (_, i) => `fleet-${i}`);
    const fleet = new Lwm2mFleet({ serverUri: server.uri, devices: names.map((endpointName) => ({ endpointName })), temperatureIntervalMs: 0, registerRate: 1000, registerConcurrency: 5, timing: { ackTimeoutMs: 300 } });
    cleanups.push(() => fleet.stop());
    await fleet.registerAll();
    expect(fleet.stats()).toMatchObject({ devices: 20, registered: 20, registrationsDone: 20, registrationsFailed: 0 });
    const registers = server.received.filter((r) => r.path.join('/') === 'rd');
    expect(registers.map((r) => r.query[0]).sort()).toEqual(names.map((n) => `ep=${n}`).sort());
    // The server observes one client's temperature; each reading is a notification.
    const peer = registers.find((r) => r.query[0] === 'ep=fleet-3')!.peer;
    await server.observe(peer, { code: CoapCode.GET, path: ['3303', '0', '5700'], options: [{ number: CoapOptionNumber.Accept, value: encodeUint(0) }] }, () => undefined);
    const client = fleet.clients.find((c) => c.stats.registrations === 1 && c.tree.instance(3, 0)!.get(2) === 'fleet-3')!;
    client.readTemperature();
    await waitUntil(() => fleet.stats().notificationsSent === 1);
    client.readTemperature();
    await waitUntil(() => fleet.stats().notificationsSent === 2);
    await fleet.stop();
    await waitUntil(() => server.received.filter((r) => r.code === CoapCode.DELETE).length === 20);
  });

  it('bootstraps each device first when the server is a bootstrap server', async () => {
    const bootstrap = await testServer();
    const dm = await testServer();
    const registry = builtinObjectRegistry();
    bootstrap.responder = (req) => {
      if (req.path[0] !== 'bs') return undefined;
      const cf = (f: number) => [{ number: CoapOptionNumber.ContentFormat, value: encodeUint(f) }];
      setImmediate(() => {
        void (async () => {
          const security: Lwm2mValue[] = [
            { path: { objectId: 0, instanceId: 1, resourceId: 0 }, type: 'String', value: dm.uri },
            { path: { objectId: 0, instanceId: 1, resourceId: 1 }, type: 'Boolean', value: false },
            { path: { objectId: 0, instanceId: 1, resourceId: 2 }, type: 'Integer', value: 3 },
            { path: { objectId: 0, instanceId: 1, resourceId: 10 }, type: 'Integer', value: 1 },
          ];
          await bootstrap.request(req.peer, { code: CoapCode.PUT, path: ['0', '1'], options: cf(112), payload: encodeContent(112, security, { objectId: 0, instanceId: 1 }, registry) });
          const server: Lwm2mValue[] = [
            { path: { objectId: 1, instanceId: 0, resourceId: 0 }, type: 'Integer', value: 1 },
            { path: { objectId: 1, instanceId: 0, resourceId: 1 }, type: 'Integer', value: 45 },
          ];
          await bootstrap.request(req.peer, { code: CoapCode.PUT, path: ['1', '0'], options: cf(11542), payload: encodeContent(11542, server, { objectId: 1, instanceId: 0 }, registry) });
          await bootstrap.request(req.peer, { code: CoapCode.POST, path: ['bs'] });
        })();
      });
      return undefined;
    };
    const summary = await runLwm2mFleet({ serverUri: bootstrap.uri, bootstrap: true, devices: [{ endpointName: 'b-1' }, { endpointName: 'b-2' }], durationSec: 0, temperatureIntervalMs: 0, timing: { ackTimeoutMs: 300 } });
    expect(summary).toMatchObject({ registrationsDone: 2, registrationsFailed: 0 });
    expect(bootstrap.received.filter((r) => r.path[0] === 'bs').map((r) => r.query[0]).sort()).toEqual(['ep=b-1', 'ep=b-2']);
    expect(dm.received.filter((r) => r.path.join('/') === 'rd').map((r) => r.query.slice(0, 2).join('&')).sort()).toEqual(['ep=b-1&lt=45', 'ep=b-2&lt=45']);
  });

  it('counts failed registrations with their reason', async () => {
    const server = await testServer();
    server.responder = (req) => (req.query.includes('ep=bad-1') ? { code: CoapCode.Forbidden, payload: Buffer.from('unknown device') } : undefined);
    const summary = await runLwm2mFleet({ serverUri: server.uri, devices: [{ endpointName: 'good-1' }, { endpointName: 'bad-1' }], durationSec: 0, temperatureIntervalMs: 0 });
    expect(summary).toMatchObject({ devices: 2, registrationsDone: 1, registrationsFailed: 1, registered: 1 });
    expect(summary.failures).toEqual({ 'Register refused: 4.03: unknown device': 1 });
    expect(summary.registrationsPerSecond).toBeGreaterThan(0);
  });
});

describe('hangar-agent simulate --protocol lwm2m', () => {
  it('plans device names from --prefix and a shared PSK from --psk-key', () => {
    const plan = planLwm2mSimulation({ devices: '3', server: 'coaps://127.0.0.1:5684', pskKey: '00112233445566778899aabbccddeeff', prefix: 'meter-' });
    expect(plan.options.devices.map((d) => [d.endpointName, d.psk?.identity, d.psk?.key.length])).toEqual([
      ['meter-000001', 'meter-000001', 16],
      ['meter-000002', 'meter-000002', 16],
      ['meter-000003', 'meter-000003', 16],
    ]);
  });

  it('maps --ota-cut, --ota-corrupt and --ota-install-fail onto Object 5 failures', () => {
    const plan = planLwm2mSimulation({ devices: '100', server: 'coap://127.0.0.1:5683', otaCut: '10', otaInstallFail: '5' });
    expect(plan.options.firmwareFailuresPct).toEqual({ download: 10, update: 5 });
    expect(() => planLwm2mSimulation({ devices: '1', server: 'coap://127.0.0.1:5683', otaCorrupt: '101' })).toThrow('--ota-corrupt must be a percentage from 0 to 100');
  });

  it.each([
    [{ server: 'coap://127.0.0.1:5683' }, /--devices N is required/],
    [{ devices: '2' }, /--server coap:\/\//],
    [{ devices: '2', server: 'mqtt://127.0.0.1:1883' }, /coap:\/\/host:port or coaps/],
    [{ devices: '2', server: 'coaps://127.0.0.1:5684' }, /needs --dtls-psk-file FILE or --psk-key HEX/],
    [{ devices: '2', server: 'coap://127.0.0.1:5683', pskKey: '00112233445566778899aabbccddeeff' }, /go with a coaps:\/\/ server/],
    [{ devices: '2', server: 'coaps://127.0.0.1:5684', pskKey: 'abcd' }, /at least 16 bytes/],
    [{ devices: '2', server: 'coap://127.0.0.1:5683', qos: '1' }, /--qos is for MQTT devices/],
    [{ devices: '2', server: 'coap://127.0.0.1:5683', lifetime: '5' }, /--lifetime must be a whole number of seconds ≥ 10/],
  ])('refuses %j', (flags, message) => {
    expect(() => planLwm2mSimulation(flags)).toThrow(Lwm2mUsageError);
    expect(() => planLwm2mSimulation(flags)).toThrow(message);
  });

  it('reads a PSK file and names the bad line', () => {
    expect(parsePskFile('{"deviceId":"d-1","key":"00ff"}\n\n{"deviceId":"d-2","identity":"id-2","key":"0102"}\n')).toEqual([
      { endpointName: 'd-1', psk: { identity: 'd-1', key: Buffer.from([0, 255]) } },
      { endpointName: 'd-2', psk: { identity: 'id-2', key: Buffer.from([1, 2]) } },
    ]);
    expect(() => parsePskFile('{"deviceId":"d-1","key":"zz"}', 'f')).toThrow('f line 1: "key" must be the PSK in hex');
    expect(() => parsePskFile('{"deviceId":"d-1","key":"00"}\n{"deviceId":"d-1","key":"00"}', 'f')).toThrow('f line 2: device "d-1" is listed twice');
  });

  it('runs from the command line and prints a JSON summary', async () => {
    const server = await testServer();
    const bin = fileURLToPath(new URL('../../bin/hangar-agent.js', import.meta.url));
    const { stdout } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(process.execPath, [bin, 'simulate', '--protocol', 'lwm2m', '--devices', '3', '--server', server.uri, '--duration', '0', '--prefix', 'cli-'], { env: { ...process.env, HANGAR_FROM_SOURCE: '1' } }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
      ),
    );
    const summary = JSON.parse(stdout) as { registrationsDone: number; registered: number; devices: number };
    expect(summary).toMatchObject({ devices: 3, registrationsDone: 3, registered: 3 });
    expect(server.received.filter((r) => r.path.join('/') === 'rd').map((r) => r.query[0]).sort()).toEqual(['ep=cli-000001', 'ep=cli-000002', 'ep=cli-000003']);
    await waitUntil(() => server.received.filter((r) => r.code === CoapCode.DELETE).length === 3);
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}
