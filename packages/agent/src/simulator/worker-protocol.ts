/** Messages between `simulate` and its worker processes (Node IPC, advanced serialization). */
import type { FleetConfig } from './config.js';
import type { DeviceCredential } from './credentials.js';
import type { StatsSnapshot } from './stats.js';

export type ToWorker =
  | { type: 'init'; config: FleetConfig; credentials: DeviceCredential[] }
  | { type: 'start' }
  | { type: 'publish' }
  | { type: 'snapshot'; id: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'snapshot'; id: number; stats: StatsSnapshot }
  | { type: 'stopped'; stats: StatsSnapshot }
  | { type: 'failed'; message: string };
