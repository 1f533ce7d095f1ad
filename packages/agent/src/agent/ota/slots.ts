/**
 * A/B slots: the device runs the image of the active slot; an update is installed into the
 * other one, booted once on trial (`pending`), and becomes active only when its self-test
 * passes (commit) — otherwise the active slot never changed (rollback). `slots.json` is the
 * single record of that, replaced atomically (temp file, fsync, rename, fsync of the dir), so
 * a power cut at any point leaves either the old or the new state, never half of one: the same
 * contract as a bootloader's A/B environment (docs/agent.md).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { OtaDeviceState, OtaFailureReason } from '@hangar/protocol';

export type SlotName = 'a' | 'b';

/** An installed update on trial: the next start runs its self-test, then commits or rolls back. */
export interface PendingSlot {
  slot: SlotName;
  version: string;
  deploymentId: string;
  artifact: 'delta' | 'full';
  /** Set when the trial boot starts: found set at a start, that boot died during its self-test. */
  booted: boolean;
}

/** A deployment's outcome; kept so an offer that is still standing is not installed again, and re-sent until delivered. */
export interface FinishedDeployment {
  deploymentId: string;
  state: Extract<OtaDeviceState, 'succeeded' | 'failed' | 'rolled_back'>;
  version?: string | undefined;
  reason?: OtaFailureReason | undefined;
  error?: string | undefined;
  artifact?: 'delta' | 'full' | undefined;
  /** The report reached the server. */
  reported: boolean;
}

export interface SlotsState {
  active: SlotName;
  /** The version each slot holds (a slot never written holds none). */
  versions: Partial<Record<SlotName, string>>;
  pending?: PendingSlot;
  /** Newest last, a bounded number. */
  finished: FinishedDeployment[];
}

export interface SlotStore {
  read(): SlotsState;
  write(state: SlotsState): void;
}

/** Outcomes remembered (a deployment offered again after this many later ones is long over). */
const FINISHED_KEPT = 20;

export function otherSlot(slot: SlotName): SlotName {
  return slot === 'a' ? 'b' : 'a';
}

/** The version the device runs: the active slot's, or the one it was first started with. */
export function runningVersion(state: SlotsState, initial: string | undefined): string | undefined {
  return state.versions[state.active] ?? initial;
}

/** Records an outcome (replacing an earlier one of the same deployment). */
export function withFinished(state: SlotsState, outcome: FinishedDeployment): SlotsState {
  const finished = state.finished.filter((f) => f.deploymentId !== outcome.deploymentId);
  finished.push(outcome);
  return { ...state, finished: finished.slice(-FINISHED_KEPT) };
}

export function initialSlots(firmwareVersion: string | undefined): SlotsState {
  return { active: 'a', versions: firmwareVersion !== undefined ? { a: firmwareVersion } : {}, finished: [] };
}

/** `<dir>/slots.json` and the slot directories `<dir>/a/`, `<dir>/b/`. */
export class FileSlotStore implements SlotStore {
  constructor(
    readonly dir: string,
    private readonly firmwareVersion?: string,
  ) {
    mkdirSync(join(dir, 'a'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dir, 'b'), { recursive: true, mode: 0o700 });
  }

  get file(): string {
    return join(this.dir, 'slots.json');
  }

  slotDir(slot: SlotName): string {
    return join(this.dir, slot);
  }

  read(): SlotsState {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return initialSlots(this.firmwareVersion);
      throw err;
    }
    const s = JSON.parse(text) as SlotsState;
    if ((s.active !== 'a' && s.active !== 'b') || typeof s.versions !== 'object') throw new Error(`${this.file} is not a slots record`);
    return { ...s, finished: Array.isArray(s.finished) ? s.finished : [] };
  }

  write(state: SlotsState): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    // The rename is durable only once the directory entry is.
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

/** Slots as versions only (the simulator's thousands of virtual devices). */
export class MemorySlotStore implements SlotStore {
  private state: SlotsState;

  constructor(firmwareVersion?: string) {
    this.state = initialSlots(firmwareVersion);
  }

  read(): SlotsState {
    return structuredClone(this.state);
  }

  write(state: SlotsState): void {
    this.state = structuredClone(state);
  }
}
