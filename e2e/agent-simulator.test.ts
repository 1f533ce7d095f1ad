/**
 * `hangar-agent simulate --agents` against a real `hangar serve`: virtual agents (the agent
 * library) provisioned through the REST API connect to Hangar's MQTT listener, stay connected,
 * and their telemetry is stored.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AgentFleetSummary } from '../packages/agent/src/simulator/index.js';
import { REPO_ROOT, startHangar, type RunningHangar } from './support/hangar-process.js';

vi.setConfig({ testTimeout: 120_000 });

const AGENT_BIN = join(REPO_ROOT, 'packages/agent/bin/hangar-agent.js');
let hangar: RunningHangar;

beforeAll(async () => {
  hangar = await startHangar({ args: ['--mqtt-port', '0'] });
});

afterAll(async () => {
  await hangar?.stop();
});

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [AGENT_BIN, ...args], { env: { ...process.env, HANGAR_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

describe('hangar-agent simulate --agents', () => {
  it('runs virtual agents against Hangar’s MQTT listener and their telemetry is stored', async () => {
    const result = await run([
      'simulate', '--agents', '--devices', '20', '--server', `mqtt://127.0.0.1:${hangar.endpoints.mqtt}`,
      '--provision', '--api', hangar.url, '--api-token', hangar.adminToken, '--prefix', 'e2e-va-',
      '--telemetry-interval', '0.5', '--duration', '2',
    ]);
    if (result.code !== 0) throw new Error(`exited ${result.code}:\n${result.stderr}`);
    const summary = JSON.parse(result.stdout) as AgentFleetSummary;
    expect(summary).toMatchObject({ mode: 'agents', agents: 20, connected: { mqtt: 20, http: 0, offline: 0 }, drops: 0, interrupted: false });
    expect(summary.telemetryQueued).toBeGreaterThanOrEqual(20);
    for (const id of ['e2e-va-000001', 'e2e-va-000020']) {
      const res = await fetch(`${hangar.url}/api/v1/devices/${id}/telemetry/latest`, { headers: { authorization: `Bearer ${hangar.adminToken}` } });
      const latest = (await res.json()) as { values: Record<string, unknown> };
      expect(Object.keys(latest.values).sort()).toEqual(['hum', 'temp']);
    }
  });

  it('refuses failure-injection flags without --agents', async () => {
    const result = await run(['simulate', '--devices', '1', '--server', 'mqtt://127.0.0.1:1', '--anonymous', '--fail-commands', '10']);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'error: --fail-commands goes with --agents\n' });
  });
});
