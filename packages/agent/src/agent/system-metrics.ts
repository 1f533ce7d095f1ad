/**
 * System metrics and static facts from /proc, `os` and `fs.statfs` only: the agent installs
 * with npm on any Linux without compiling a native module. Parsers are pure functions of the
 * files' text, so they are tested on fixed samples.
 */
import { readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';

export interface CpuTimes {
  idle: number;
  total: number;
}

/** The aggregate `cpu` line of /proc/stat: idle = idle + iowait, total = all fields. */
export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return undefined;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  if (fields.length < 4 || fields.some((n) => !Number.isFinite(n))) return undefined;
  // guest and guest_nice (fields 9, 10) are already counted in user and nice.
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle: fields[3]! + (fields[4] ?? 0), total };
}

/** CPU busy percent between two samples (0 when no time passed). */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  const busy = total - (after.idle - before.idle);
  return Math.round(Math.min(100, Math.max(0, (busy / total) * 100)) * 10) / 10;
}

/** Total and available memory in bytes from /proc/meminfo (MemAvailable counts reclaimable cache). */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } | undefined {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable') ?? kb('MemFree');
  return total === undefined || available === undefined ? undefined : { totalBytes: total, availableBytes: available };
}

/** Received and sent bytes summed over the interfaces of /proc/net/dev, loopback excluded. */
export function parseNetDev(text: string): { rxBytes: number; txBytes: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    if (f.length < 9) continue;
    rx += f[0]!;
    tx += f[8]!;
  }
  return { rxBytes: rx, txBytes: tx };
}

/** PRETTY_NAME of /etc/os-release, e.g. "Debian GNU/Linux 12 (bookworm)". */
export function parseOsRelease(text: string): string | undefined {
  const m = /^PRETTY_NAME=(.*)$/m.exec(text);
  return m ? m[1]!.trim().replace(/^"(.*)"$/, '$1') : undefined;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Samples metrics; CPU percent is over the time since the previous sample (the first is since boot). */
export class SystemMetrics {
  private lastCpu: CpuTimes | undefined;

  constructor(
    /** The state dir: its filesystem's usage is the disk metric. */
    private readonly diskPath: string,
    private readonly procRoot = '/proc',
  ) {}

  sample(): Record<string, number> {
    const out: Record<string, number> = {};
    const cpu = this.cpuTimes();
    if (cpu) {
      out.cpuPercent = cpuPercent(this.lastCpu ?? { idle: 0, total: 0 }, cpu);
      this.lastCpu = cpu;
    }
    const mem = parseMeminfo(readOptional(`${this.procRoot}/meminfo`) ?? '') ?? { totalBytes: os.totalmem(), availableBytes: os.freemem() };
    out.memTotalBytes = mem.totalBytes;
    out.memUsedBytes = mem.totalBytes - mem.availableBytes;
    out.memPercent = Math.round((out.memUsedBytes / mem.totalBytes) * 1000) / 10;
    try {
      const fs = statfsSync(this.diskPath);
      out.diskTotalBytes = fs.blocks * fs.bsize;
      out.diskFreeBytes = fs.bavail * fs.bsize;
      out.diskPercent = out.diskTotalBytes > 0 ? Math.round((1 - out.diskFreeBytes / out.diskTotalBytes) * 1000) / 10 : 0;
    } catch {
      // no disk metric where the state dir cannot be stat'ed
    }
    out.uptimeSec = Math.round(os.uptime());
    out.loadAvg1 = Math.round(os.loadavg()[0]! * 100) / 100;
    const net = readOptional(`${this.procRoot}/net/dev`);
    if (net !== undefined) Object.assign(out, parseNetDev(net));
    return out;
  }

  private cpuTimes(): CpuTimes | undefined {
    const stat = readOptional(`${this.procRoot}/stat`);
    if (stat !== undefined) return parseProcStat(stat);
    // Not Linux: os.cpus() gives the same counters in ms.
    let idle = 0;
    let total = 0;
    for (const c of os.cpus()) {
      idle += c.times.idle;
      total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
    }
    return total > 0 ? { idle, total } : undefined;
  }
}

export interface StaticFacts {
  os: string;
  kernel: string;
  arch: string;
  hostname: string;
  agentVersion: string;
  firmwareVersion?: string;
}

export function staticFacts(agentVersion: string, firmwareVersion: string | undefined, osRelease = '/etc/os-release'): StaticFacts {
  return {
    os: parseOsRelease(readOptional(osRelease) ?? '') ?? `${os.type()} ${os.release()}`,
    kernel: os.release(),
    arch: os.arch(),
    hostname: os.hostname(),
    agentVersion,
    ...(firmwareVersion !== undefined ? { firmwareVersion } : {}),
  };
}
