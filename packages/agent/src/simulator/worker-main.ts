/**
 * Entry point of a simulator worker process: runs its share of the fleet as the parent
 * (worker-pool.ts) directs over IPC, and exits when told to stop or when the parent is gone.
 */
import { Fleet } from './fleet.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

let fleet: Fleet | undefined;

function send(message: FromWorker): void {
  process.send?.(message);
}

// A Ctrl-C reaches the whole process group; the parent decides when this worker stops.
process.on('SIGINT', () => undefined);
// Without a parent nothing would ever stop the devices.
process.on('disconnect', () => process.exit(0));

process.on('message', (raw) => {
  const message = raw as ToWorker;
  void handle(message).catch((err: unknown) => send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }));
});

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init':
      fleet = new Fleet(message.credentials, message.config);
      send({ type: 'ready' });
      return;
    case 'start':
      await fleet!.start();
      return;
    case 'publish':
      await fleet!.startPublishing();
      return;
    case 'snapshot':
      send({ type: 'snapshot', id: message.id, stats: await fleet!.snapshot() });
      return;
    case 'stop': {
      const stats = await fleet!.stop();
      send({ type: 'stopped', stats });
      process.disconnect();
      return;
    }
  }
}
