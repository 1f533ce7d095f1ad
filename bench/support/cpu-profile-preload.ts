/**
 * Preloaded into a server child (`NODE_OPTIONS=--import tsx --import <this file>`) when
 * HANGAR_BENCH_CPU_PROF names a directory: records a V8 CPU profile of the whole process and
 * writes it there on exit, like `node --cpu-prof` (which Node does not allow in NODE_OPTIONS).
 * Open the `.cpuprofile` in Chrome DevTools or speedscope.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.HANGAR_BENCH_CPU_PROF;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // 1 ms sampling instead of the default ~0.1 ms keeps the profile small over a long run.
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.once('exit', () => {
    // A session on the main thread answers synchronously, so this completes inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `hangar-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
