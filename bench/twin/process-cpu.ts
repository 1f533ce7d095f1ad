/**
 * CPU time of the server (a child process, from /proc) and of this process (the load
 * generator), so that a phase can say how much CPU each side spent per operation and which of
 * them the two cores were busy with.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds of `pid` so far (Linux /proc; 10 ms resolution). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12th and 13th after the name.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Busy CPU seconds of the whole machine so far, every core (/proc/stat: all but idle and iowait). */
export function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
  return (user + nice + system + irq + softirq + steal) / clockTicks();
}

export interface CpuSpan {
  wallSec: number;
  serverSec: number;
  generatorSec: number;
  /** Every process on the machine, the two above included: the rest is other work sharing the cores. */
  machineSec: number;
}

/** Starts measuring wall time and both sides' CPU; `stop()` answers what each spent since. */
export function startCpuSpan(serverPid: number): { stop(): CpuSpan } {
  const t0 = performance.now();
  const server0 = processCpuSeconds(serverPid);
  const gen0 = ownCpuSeconds();
  const machine0 = machineBusySeconds();
  return {
    stop: () => ({
      wallSec: (performance.now() - t0) / 1000,
      serverSec: processCpuSeconds(serverPid) - server0,
      generatorSec: ownCpuSeconds() - gen0,
      machineSec: machineBusySeconds() - machine0,
    }),
  };
}
