import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSimulation, UsageError, type SimulateFlags } from './simulate-command.js';

const base: SimulateFlags = { devices: '20', server: 'mqtt://127.0.0.1:1883', anonymous: true };

describe('planSimulation', () => {
  it('defaults to 1 msg/s per device at QoS 1 over MQTT 3.1.1 until stopped', () => {
    const plan = planSimulation(base);
    expect(plan.devices).toBe(20);
    expect(plan.source).toEqual({ kind: 'anonymous', prefix: 'sim-' });
    expect(plan.options).toMatchObject({ server: 'mqtt://127.0.0.1:1883', mode: { kind: 'rate', perSecond: 1, inflight: 100 }, qos: 1, mqttVersion: '3.1.1', durationSec: Infinity, payloadKeys: 2, workers: 1 });
  });

  it('takes --max with --inflight, and every tuning flag', () => {
    const plan = planSimulation({ ...base, max: true, inflight: '4', qos: '0', mqttVersion: '5', duration: '2.5', payloadKeys: '6', connectRate: '1000', connectConcurrency: '50', connectTimeout: '3', keepalive: '30', workers: '3' });
    expect(plan.options).toMatchObject({ mode: { kind: 'max', inflight: 4 }, qos: 0, mqttVersion: '5', durationSec: 2.5, payloadKeys: 6, connectRate: 1000, connectConcurrency: 50, connectTimeoutMs: 3000, keepaliveSec: 30, workers: 3 });
  });

  it('takes --provision with the API from flags or HANGAR_URL / HANGAR_TOKEN', () => {
    const flags = { devices: '5', server: 'mqtt://h:1', provision: true, prefix: 'load-', saveCredentials: 'c.ndjson' };
    expect(planSimulation(flags, { HANGAR_URL: 'http://h:8080', HANGAR_TOKEN: 'hk_x' })).toMatchObject({
      source: { kind: 'provision', api: 'http://h:8080', apiToken: 'hk_x', prefix: 'load-', deviceType: 'simulator' },
      saveCredentials: 'c.ndjson',
    });
    expect(planSimulation({ ...flags, api: 'http://other', apiToken: 't' }, { HANGAR_URL: 'http://h:8080' }).source).toMatchObject({ api: 'http://other', apiToken: 't' });
  });

  it('takes --enroll with its group and claim token', () => {
    expect(planSimulation({ devices: '1', server: 'mqtts://h:8883', enroll: true, api: 'http://h', enrollmentGroup: 'eg_1', claimToken: 'ct' }).source).toEqual({
      kind: 'enroll',
      api: 'http://h',
      enrollmentGroupId: 'eg_1',
      claimToken: 'ct',
      prefix: 'sim-',
    });
  });

  it('checks at the end that the Hangar of --provision/--enroll, or of an explicit --api, saw the devices, unless --no-verify', () => {
    const env = { HANGAR_URL: 'http://h:8080', HANGAR_TOKEN: 'hk_x' };
    const provision = { devices: '5', server: 'mqtt://h:1', provision: true };
    expect(planSimulation(provision, env).check).toEqual({ api: 'http://h:8080', apiToken: 'hk_x' });
    expect(planSimulation({ devices: '1', server: 'mqtt://h:1', enroll: true, api: 'http://h', enrollmentGroup: 'eg', claimToken: 'c' }).check).toEqual({ api: 'http://h' });
    expect(planSimulation({ ...base, anonymous: undefined, credentials: 'f', api: 'http://h', apiToken: 't' }).check).toEqual({ api: 'http://h', apiToken: 't' });
    // An exported HANGAR_URL alone says nothing about where a --credentials or --anonymous run goes.
    expect(planSimulation(base, env).check).toBeUndefined();
    expect(planSimulation({ ...provision, verify: false }, env).check).toBeUndefined();
  });

  it('reads the --ca file for an mqtts:// server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hangar-sim-ca-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), 'PEM');
      expect(planSimulation({ ...base, server: 'mqtts://h:8883', ca: join(dir, 'ca.pem') }).options.caPem).toBe('PEM');
      expect(() => planSimulation({ ...base, server: 'mqtts://h:8883', ca: join(dir, 'none.pem') })).toThrow(/--ca: cannot read .*ENOENT/);
      expect(() => planSimulation({ ...base, ca: join(dir, 'ca.pem') })).toThrow(/--ca applies to mqtts/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each<[SimulateFlags, RegExp]>([
    [{ server: 'mqtt://h:1', anonymous: true }, /--devices N is required/],
    [{ ...base, devices: '0' }, /--devices must be a whole number ≥ 1, not "0"/],
    [{ ...base, devices: '2.5' }, /--devices must be a whole number/],
    [{ ...base, server: undefined }, /--server .* is required/],
    [{ ...base, server: 'http://h:1' }, /--server must be mqtt:\/\/host:port/],
    [{ ...base, server: 'mqtt://h:1/path' }, /--server must be/],
    [{ ...base, rate: '5', max: true }, /--rate and --max exclude each other/],
    [{ ...base, rate: '0' }, /--rate must be a positive number/],
    [{ ...base, rate: 'fast' }, /--rate must be a positive number/],
    [{ ...base, max: true, inflight: '0' }, /--inflight must be a whole number ≥ 1/],
    [{ ...base, qos: '2' }, /--qos must be 0 or 1, not "2"/],
    [{ ...base, mqttVersion: '3.1' }, /--mqtt-version must be 3.1.1 or 5/],
    [{ ...base, duration: '-1' }, /--duration must be a number of seconds ≥ 0/],
    [{ ...base, payloadKeys: '0' }, /--payload-keys must be a whole number from 1 to 1000/],
    [{ ...base, payloadKeys: '1001' }, /--payload-keys/],
    [{ ...base, connectRate: '0' }, /--connect-rate must be a positive number/],
    [{ ...base, keepalive: '70000' }, /--keepalive/],
    [{ ...base, workers: '0' }, /--workers must be a whole number ≥ 1/],
    [{ devices: '1', server: 'mqtt://h:1' }, /say where device credentials come from/],
    [{ ...base, credentials: 'f' }, /--credentials and --anonymous exclude each other/],
    [{ devices: '1', server: 'mqtt://h:1', provision: true, apiToken: 't' }, /--provision needs --api URL/],
    [{ devices: '1', server: 'mqtt://h:1', provision: true, api: 'http://h' }, /--provision needs --api-token/],
    [{ devices: '1', server: 'mqtt://h:1', enroll: true, api: 'http://h', claimToken: 'c' }, /--enroll needs --enrollment-group ID and --claim-token/],
    [{ ...base, saveCredentials: 'x' }, /--save-credentials goes with --provision or --enroll/],
  ])('refuses %o', (flags, message) => {
    expect(() => planSimulation(flags, {})).toThrow(UsageError);
    expect(() => planSimulation(flags, {})).toThrow(message);
  });
});
