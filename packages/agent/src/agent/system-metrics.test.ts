import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuPercent, parseMeminfo, parseNetDev, parseOsRelease, parseProcStat, staticFacts, SystemMetrics } from './system-metrics.js';

const STAT_1 = 'cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\nintr 1\n';
const STAT_2 = 'cpu  250 0 150 800 100 0 0 0 0 0\ncpu0 125 0 75 400 50 0 0 0 0 0\nintr 2\n';
const MEMINFO = 'MemTotal:        2048000 kB\nMemFree:          100000 kB\nMemAvailable:    1024000 kB\nBuffers:            1000 kB\n';
const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0
  eth0: 1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0
 wlan0:  300       3    0    0    0     0          0         0      400       4    0    0    0     0       0          0
`;

describe('metrics readers', () => {
  it('reads CPU busy percent between two /proc/stat samples', () => {
    const a = parseProcStat(STAT_1)!;
    const b = parseProcStat(STAT_2)!;
    expect(a).toEqual({ idle: 800, total: 1000 });
    expect(cpuPercent(a, b)).toBe(66.7); // 200 busy of 300
    expect(cpuPercent(b, b)).toBe(0);
    expect(parseProcStat('nothing')).toBeUndefined();
  });

  it('reads memory from /proc/meminfo', () => {
    expect(parseMeminfo(MEMINFO)).toEqual({ totalBytes: 2048000 * 1024, availableBytes: 1024000 * 1024 });
    expect(parseMeminfo('MemTotal: 10 kB\nMemFree: 5 kB\n')).toEqual({ totalBytes: 10240, availableBytes: 5120 });
    expect(parseMeminfo('')).toBeUndefined();
  });

  it('sums network bytes of /proc/net/dev without loopback', () => {
    expect(parseNetDev(NET_DEV)).toEqual({ rxBytes: 1300, txBytes: 2400 });
  });

  it('reads the OS name from os-release', () => {
    expect(parseOsRelease('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(parseOsRelease('PRETTY_NAME=Alpine\n')).toBe('Alpine');
  });

  it('samples a /proc tree: CPU over the interval, memory, disk, network, uptime', () => {
    const root = mkdtempSync(join(tmpdir(), 'hangar-proc-'));
    try {
      mkdirSync(join(root, 'net'));
      writeFileSync(join(root, 'stat'), STAT_1);
      writeFileSync(join(root, 'meminfo'), MEMINFO);
      writeFileSync(join(root, 'net/dev'), NET_DEV);
      const metrics = new SystemMetrics(root, root);
      metrics.sample();
      writeFileSync(join(root, 'stat'), STAT_2);
      const m = metrics.sample();
      expect(m).toMatchObject({ cpuPercent: 66.7, memTotalBytes: 2048000 * 1024, memUsedBytes: 1024000 * 1024, memPercent: 50, rxBytes: 1300, txBytes: 2400 });
      expect(m.diskTotalBytes).toBeGreaterThan(0);
      expect(m.diskPercent).toBeGreaterThanOrEqual(0);
      expect(m.uptimeSec).toBeGreaterThan(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads this machine’s real /proc', () => {
    const m = new SystemMetrics(tmpdir()).sample();
    expect(m.memTotalBytes).toBeGreaterThan(0);
    expect(m.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(m.cpuPercent).toBeLessThanOrEqual(100);
  });

  it('states static facts', () => {
    const facts = staticFacts('1.2.3', 'fw-9');
    expect(facts).toMatchObject({ agentVersion: '1.2.3', firmwareVersion: 'fw-9' });
    expect(facts.kernel).not.toBe('');
    expect(facts.os).not.toBe('');
  });
});
