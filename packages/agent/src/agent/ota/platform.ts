/**
 * What the OTA state machine needs of the device it runs on: somewhere to download to, slots,
 * an installer and a self-test. `FilePlatform` is a real device's (files in the state dir);
 * the simulator has a virtual one (slots as versions, downloads as running hashes).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FirmwareManifest, OtaActiveOffer } from '@hangar/protocol';
import { applyDelta } from './delta.js';
import { FileDownloadSink, type DownloadSink } from './downloader.js';
import { installImage, SLOT_IMAGE, type ShellOutcome } from './installer.js';
import { runSelfTest } from './self-test.js';
import { FileSlotStore, type PendingSlot, type SlotName, type SlotStore } from './slots.js';
import { digestFile } from './verifier.js';

export interface HeldArtifact {
  sha256: string;
  size: number;
}

export interface OtaPlatform {
  readonly slots: SlotStore;
  /** Where artifact `name` (e.g. `image-<sha256>`) is downloaded to. */
  sink(name: string): DownloadSink;
  /** SHA-256 and size of a completely downloaded artifact, or undefined when none is held. */
  held(name: string): Promise<HeldArtifact | undefined>;
  /** Forgets an artifact, and any partial download of it. */
  discard(name: string): void;
  /** Whether deltas can be applied here at all (the active slot holds an image to patch). */
  canApplyDelta(): boolean;
  /** Artifact `out` = the active slot's image patched with artifact `patch`, checked against the manifest; throws PatchError. */
  applyDelta(patch: string, out: string, manifest: FirmwareManifest): Promise<void>;
  /** Writes artifact `name` into `slot`; throws to fail the update with reason `install`. */
  install(name: string, slot: SlotName, version: string): Promise<void>;
  /** Runs on the trial boot of `pending`. */
  selfTest(pending: PendingSlot, previousVersion: string | undefined): Promise<ShellOutcome>;
  /** Failure injection (the simulator): the offer as this device gets it, e.g. with a damaged signature. */
  injectOffer?(offer: OtaActiveOffer): OtaActiveOffer;
  /** Failure injection (the simulator): cut the first download attempt after this many bytes. */
  injectCutAt?(size: number): number | undefined;
}

export interface FilePlatformOptions {
  /** `<state-dir>/ota`. */
  dir: string;
  firmwareVersion?: string | undefined;
  installCmd?: string | undefined;
  selfTestCmd?: string | undefined;
  selfTestTimeoutMs?: number | undefined;
}

/** A device's OTA files: `<dir>/slots.json`, `<dir>/a/`, `<dir>/b/`, `<dir>/downloads/`. */
export class FilePlatform implements OtaPlatform {
  readonly slots: FileSlotStore;
  private readonly downloads: string;

  constructor(private readonly options: FilePlatformOptions) {
    this.slots = new FileSlotStore(options.dir, options.firmwareVersion);
    this.downloads = join(options.dir, 'downloads');
    mkdirSync(this.downloads, { recursive: true, mode: 0o700 });
  }

  path(name: string): string {
    return join(this.downloads, name);
  }

  sink(name: string): DownloadSink {
    return new FileDownloadSink(this.path(name));
  }

  async held(name: string): Promise<HeldArtifact | undefined> {
    return existsSync(this.path(name)) ? digestFile(this.path(name)) : undefined;
  }

  discard(name: string): void {
    new FileDownloadSink(this.path(name)).discard();
  }

  private activeImage(): string {
    return join(this.slots.slotDir(this.slots.read().active), SLOT_IMAGE);
  }

  canApplyDelta(): boolean {
    return existsSync(this.activeImage());
  }

  applyDelta(patch: string, out: string, manifest: FirmwareManifest): Promise<void> {
    return applyDelta(this.activeImage(), this.path(patch), this.path(out), manifest);
  }

  async install(name: string, slot: SlotName, version: string): Promise<void> {
    const slotDir = this.slots.slotDir(slot);
    // The inactive slot may hold an older (or a rolled-back) image: it is overwritten whole.
    rmSync(join(slotDir, SLOT_IMAGE), { force: true });
    await installImage({ image: this.path(name), slotDir, version }, this.options.installCmd);
  }

  selfTest(pending: PendingSlot, previousVersion: string | undefined): Promise<ShellOutcome> {
    return runSelfTest(this.options.selfTestCmd, { version: pending.version, slotDir: this.slots.slotDir(pending.slot), previousVersion }, this.options.selfTestTimeoutMs);
  }
}
