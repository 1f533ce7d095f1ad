/**
 * OTA for the simulator's virtual agents: the real state machine (`OtaUpdater`) and the real
 * downloader against the real server, on a platform cheap enough for 10,000 agents — slots are
 * versions only, and a download keeps no bytes: each is hashed as it arrives (SHA-256 is what
 * the verifier checks), so the bench measures the server, not 10,000 files. Failure injection
 * happens where a real device would fail: the stream (a cut, a flipped byte), the offer's
 * signature, the installer, the self-test.
 */
import { createHash, type Hash } from 'node:crypto';
import type { OtaActiveOffer } from '@hangar/protocol';
import { PatchError } from '../agent/ota/delta.js';
import type { DownloadSink } from '../agent/ota/downloader.js';
import { InstallError, type ShellOutcome } from '../agent/ota/installer.js';
import type { HeldArtifact, OtaPlatform } from '../agent/ota/platform.js';
import { MemorySlotStore } from '../agent/ota/slots.js';

/** The injections one agent gets (chosen per agent from the fleet's percentages). */
export interface VirtualOtaFaults {
  /** The first download attempt is cut half way (then resumes with a Range request). */
  cut: boolean;
  /** One byte of the image is flipped as it is stored → the SHA-256 check fails. */
  corrupt: boolean;
  /** The offer's signature is damaged → the signature check fails. */
  badSignature: boolean;
  installFails: boolean;
  selfTestFails: boolean;
}

export const NO_VIRTUAL_FAULTS: VirtualOtaFaults = { cut: false, corrupt: false, badSignature: false, installFails: false, selfTestFails: false };

export interface VirtualOtaCounters {
  bytesDownloaded: number;
  downloadCuts: number;
  corrupted: number;
  badSignatures: number;
  installFailures: number;
  selfTestFailures: number;
}

export class VirtualOtaPlatform implements OtaPlatform {
  readonly slots: MemorySlotStore;
  private readonly artifacts = new Map<string, MemorySink>();
  private cutDone = false;
  private readonly damaged = new Set<string>();

  constructor(
    firmwareVersion: string | undefined,
    private readonly faults: VirtualOtaFaults,
    private readonly counters: VirtualOtaCounters,
  ) {
    this.slots = new MemorySlotStore(firmwareVersion);
  }

  sink(name: string): DownloadSink {
    let sink = this.artifacts.get(name);
    if (!sink) {
      sink = new MemorySink(this.faults.corrupt && name.startsWith('image-'), this.counters);
      this.artifacts.set(name, sink);
    }
    return sink;
  }

  held(name: string): Promise<HeldArtifact | undefined> {
    return Promise.resolve(this.artifacts.get(name)?.digest);
  }

  discard(name: string): void {
    this.artifacts.delete(name);
  }

  /** Virtual slots hold no image to patch: virtual agents always take the full image. */
  canApplyDelta(): boolean {
    return false;
  }

  applyDelta(): Promise<void> {
    return Promise.reject(new PatchError('virtual slots hold no image'));
  }

  install(): Promise<void> {
    if (!this.faults.installFails) return Promise.resolve();
    this.counters.installFailures += 1;
    return Promise.reject(new InstallError('injected install failure (simulator)'));
  }

  selfTest(): Promise<ShellOutcome> {
    if (!this.faults.selfTestFails) return Promise.resolve({ ok: true });
    this.counters.selfTestFailures += 1;
    return Promise.resolve({ ok: false, error: 'injected self-test failure (simulator)' });
  }

  injectOffer(offer: OtaActiveOffer): OtaActiveOffer {
    if (!this.faults.badSignature) return offer;
    // Counted once per deployment: the same offer arrives again (a reconnect, a poll, fresh tokens).
    if (!this.damaged.has(offer.deploymentId)) {
      this.damaged.add(offer.deploymentId);
      this.counters.badSignatures += 1;
    }
    const sig = Buffer.from(offer.signature, 'base64');
    if (sig.length > 0) sig[0] = sig[0]! ^ 0xff;
    return { ...offer, signature: sig.toString('base64') };
  }

  injectCutAt(size: number): number | undefined {
    if (!this.faults.cut || this.cutDone || size < 2) return undefined;
    this.cutDone = true;
    this.counters.downloadCuts += 1;
    return Math.floor(size / 2);
  }
}

/** A download held as its running SHA-256 (resumable while the agent lives, as a part file is). */
class MemorySink implements DownloadSink {
  private hash: Hash = createHash('sha256');
  private offset = 0;
  private etag: string | undefined;
  digest: HeldArtifact | undefined;
  private flipped = false;

  constructor(
    private readonly corrupt: boolean,
    private readonly counters: VirtualOtaCounters,
  ) {}

  held(): Promise<{ offset: number; etag: string | undefined }> {
    return Promise.resolve({ offset: this.offset, etag: this.etag });
  }

  restart(from: number, etag: string | undefined): Promise<void> {
    // A hash cannot be truncated: the downloader only ever restarts from 0.
    if (from !== this.offset) {
      this.hash = createHash('sha256');
      this.offset = 0;
      this.flipped = false;
    }
    this.etag = etag;
    return Promise.resolve();
  }

  append(chunk: Buffer): Promise<void> {
    let piece = chunk;
    if (this.corrupt && !this.flipped && piece.length > 0) {
      piece = Buffer.from(piece);
      piece[0] = piece[0]! ^ 0x01;
      this.flipped = true;
      this.counters.corrupted += 1;
    }
    this.hash.update(piece);
    this.offset += piece.length;
    this.counters.bytesDownloaded += piece.length;
    return Promise.resolve();
  }

  complete(): Promise<void> {
    this.digest = { sha256: this.hash.digest('hex'), size: this.offset };
    return Promise.resolve();
  }
}
