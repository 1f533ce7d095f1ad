import { describe, expect, it } from 'vitest';
import { planSimulation, UsageError, type SimulateFlags } from './simulate-command.js';
import { NO_OTA_FAILURES } from './simulator/virtual-agents.js';

const base: SimulateFlags = { devices: '5', server: 'mqtt://127.0.0.1:1883', anonymous: true };

describe('planSimulation --agents', () => {
  it('plans virtual agents with failure injection', () => {
    const plan = planSimulation({ ...base, agents: true, httpUrl: 'http://h:8080', telemetryInterval: '2', dropConnections: '0.01', failCommands: '10', slowCommands: '5', slowCommandMs: '800', rejectDesired: '25' });
    expect(plan.agents).toEqual({ httpUrl: 'http://h:8080', telemetryIntervalSec: 2, failures: { dropProbability: 0.01, failCommandsPct: 10, slowCommandsPct: 5, slowCommandMs: 800, rejectDesiredPct: 25 } });
  });

  it('defaults to no failures and a reading every 10 s', () => {
    expect(planSimulation({ ...base, agents: true }).agents).toEqual({ telemetryIntervalSec: 10, failures: { dropProbability: 0, failCommandsPct: 0, slowCommandsPct: 0, slowCommandMs: 5000, rejectDesiredPct: 0 } });
    expect(planSimulation(base).agents).toBeUndefined();
  });

  it('plans OTA failure injection', () => {
    const plan = planSimulation({ ...base, agents: true, firmwareVersion: '1.2.0', otaCut: '50', otaInstallFail: '10', otaSelfTestFail: '5', otaDisconnectAfter: '20', otaDisconnectEvery: '2', otaAlertTelemetry: '{"temp_c":99}' });
    expect(plan.agents?.firmwareVersion).toBe('1.2.0');
    expect(plan.agents?.failures.ota).toEqual({ ...NO_OTA_FAILURES, downloadCutPct: 50, installFailPct: 10, selfTestFailPct: 5, disconnectAfterUpdatePct: 20, disconnectEverySec: 2, alertTelemetry: { temp_c: 99 } });
  });

  it.each<[SimulateFlags, string]>([
    [{ otaCut: '10' }, '--ota-cut goes with --agents'],
    [{ agents: true, otaCorrupt: '150' }, '--ota-corrupt must be a percentage from 0 to 100, not "150"'],
    [{ agents: true, otaAlertEvery: '0' }, '--ota-alert-every must be a positive number of seconds, not "0"'],
    [{ agents: true, otaAlertTelemetry: '[1]' }, '--ota-alert-telemetry must be a JSON object such as {"error_rate":1}, not "[1]"'],
    [{ failCommands: '10' }, '--fail-commands goes with --agents'],
    [{ agents: true, failCommands: '101' }, '--fail-commands must be a percentage from 0 to 100, not "101"'],
    [{ agents: true, rejectDesired: '-1' }, '--reject-desired must be a percentage from 0 to 100, not "-1"'],
    [{ agents: true, dropConnections: '2' }, '--drop-connections must be a probability per agent per second from 0 to 1, not "2"'],
    [{ agents: true, slowCommandMs: '1.5' }, '--slow-command-ms must be a whole number of milliseconds ≥ 0, not "1.5"'],
    [{ agents: true, max: true }, '--agents send telemetry every --telemetry-interval seconds: --rate and --max do not apply'],
    [{ agents: true, httpUrl: 'ftp://x' }, '--http-url must be an http:// or https:// URL, not "ftp://x"'],
  ])('refuses %j', (flags, message) => {
    expect(() => planSimulation({ ...base, ...flags })).toThrow(new UsageError(message));
  });
});
