/**
 * The device's OTA state machine (DESIGN §5, docs/agent.md "OTA updates"):
 *
 *   offer → downloading (progress) → downloaded → [verify] → installing (inactive slot)
 *         → restart into the new slot (trial boot) → self-test → succeeded (commit)
 *                                                              → rolled_back (old slot)
 *   a bad signature or image → failed/verify (nothing installed); fetch → failed/download;
 *   the installer → failed/install.
 *
 * Every state is reported. The signature is checked before the download (an unsigned image is
 * not worth fetching), the SHA-256 after it. The offer is a state message: a newer one replaces
 * the one being downloaded, and `{deploymentId: null}` withdraws it — both stop a download, but
 * never an install under way. Everything that must survive a crash is in `slots.json`: a start
 * that finds a pending slot is the trial boot, and one that finds it already booted is a trial
 * that died during its self-test (rolled back, as a bootloader's boot counter would).
 */
import type { FirmwareSigningKey, OtaActiveOffer, OtaFailureReason, OtaOffer, OtaStatusReport } from '@hangar/protocol';
import type { AgentLog } from '../agent-log.js';
import { isPlainObject } from '../merge-patch.js';
import type { BackoffPolicy } from '../../simulator/backoff.js';
import { download, DownloadError } from './downloader.js';
import type { OtaPlatform } from './platform.js';
import { otherSlot, runningVersion, withFinished, type FinishedDeployment, type SlotsState } from './slots.js';
import { verifyImageDigest, verifyManifestSignature, VerifyError, type KeyRing } from './verifier.js';

/** What the updater needs of the agent around it. */
export interface OtaHost {
  log: AgentLog;
  /** Queues a status report; resolves once the server took it (or refused it for good). */
  report(status: OtaStatusReport): Promise<void>;
  /** The version the device runs changed (reported twin `firmwareVersion`). */
  versionChanged(version: string): void;
  /** An offer's device-API path as a URL on the agent's HTTP base; undefined without one. */
  resolveUrl(path: string): string | undefined;
  /** `GET /device/v1/firmware/signing-keys`. */
  fetchKeys?: () => Promise<FirmwareSigningKey[]>;
  /** `GET /device/v1/ota`: the current offer with fresh download tokens. */
  fetchOffer?: () => Promise<OtaOffer>;
  /** Restarts into the new slot; the new start calls `boot()`. */
  restart(): void;
  caPem?: string | undefined;
}

export interface OtaUpdaterOptions {
  platform: OtaPlatform;
  keys: KeyRing;
  /** The version the device runs before any update went through the slots (`--firmware-version`). */
  firmwareVersion?: string | undefined;
  downloadBackoff?: BackoffPolicy;
  downloadRetries?: number;
  /** Download progress is reported each time it crosses another step (default 0.1). */
  progressStep?: number;
}

export type OtaPhase = 'idle' | 'downloading' | 'installing';

/** Ends a job without a report: withdrawn, replaced by a newer offer, or the agent stopping. */
class Stopped extends Error {}

class Failure extends Error {
  constructor(
    readonly reason: OtaFailureReason,
    message: string,
  ) {
    super(message);
  }
}

interface Job {
  offer: OtaActiveOffer;
  abort: AbortController;
  phase: OtaPhase;
}

export class OtaUpdater {
  private current: OtaActiveOffer | null = null;
  private job: Job | undefined;
  private ready = false;
  private stopped = false;
  private restartPending = false;

  constructor(
    private readonly options: OtaUpdaterOptions,
    private readonly host: OtaHost,
  ) {}

  /** The firmware version the device runs now. */
  get version(): string | undefined {
    return runningVersion(this.options.platform.slots.read(), this.options.firmwareVersion);
  }

  /** The deployment of the offer in hand (the HTTP long-poll sends it, to hear only of changes). */
  get deploymentId(): string | null {
    return this.current?.deploymentId ?? null;
  }

  get phase(): OtaPhase {
    return this.job?.phase ?? 'idle';
  }

  /**
   * At every start: a pending slot is on its trial boot — self-test, then commit or roll back
   * — and outcomes not yet delivered are sent again. Offers wait until this is done.
   */
  async boot(): Promise<void> {
    this.stopped = false;
    this.restartPending = false;
    const slots = this.options.platform.slots;
    let state = slots.read();
    const pending = state.pending;
    if (pending) {
      const previous = runningVersion(state, this.options.firmwareVersion);
      if (pending.booted) {
        this.host.log.error(`firmware ${pending.version}: the trial boot did not finish its self-test; rolling back to ${previous ?? 'the previous slot'}`);
        state = this.rollBack(state, 'the trial boot did not finish its self-test (the agent stopped or crashed)');
      } else {
        slots.write({ ...state, pending: { ...pending, booted: true } });
        this.host.log.info(`firmware ${pending.version}: trial boot of slot ${pending.slot}, running the self-test`);
        const outcome = await this.options.platform.selfTest(pending, previous);
        state = slots.read();
        if (outcome.ok) {
          const { pending: _done, ...rest } = state;
          state = withFinished({ ...rest, active: pending.slot, versions: { ...state.versions, [pending.slot]: pending.version } }, {
            deploymentId: pending.deploymentId,
            state: 'succeeded',
            version: pending.version,
            artifact: pending.artifact,
            reported: false,
          });
          slots.write(state);
          this.host.log.info(`firmware ${pending.version}: self-test passed, slot ${pending.slot} committed`);
        } else {
          this.host.log.error(`firmware ${pending.version}: self-test failed (${outcome.error ?? ''}); rolling back to ${previous ?? 'the previous slot'}`);
          state = this.rollBack(state, outcome.error ?? 'the self-test failed');
        }
      }
    }
    const version = runningVersion(state, this.options.firmwareVersion);
    if (version !== undefined) this.host.versionChanged(version);
    for (const f of state.finished) if (!f.reported) void this.deliver(f);
    this.ready = true;
    this.pump();
  }

  /** Takes an offer (MQTT `devices/{id}/ota`, the HTTP long-poll): the latest wins. */
  offer(raw: unknown): void {
    const offer = parseOffer(raw);
    if (!offer) {
      this.host.log.warn(`ignored an OTA offer that is not one: ${JSON.stringify(raw).slice(0, 200)}`);
      return;
    }
    const job = this.job;
    if (offer.deploymentId === null) {
      if (this.current) this.host.log.info(`OTA deployment ${this.current.deploymentId} withdrawn`);
      this.current = null;
      if (job?.phase === 'downloading') job.abort.abort(new Stopped('withdrawn'));
      return;
    }
    const injected = this.options.platform.injectOffer?.(offer) ?? offer;
    this.current = injected;
    if (job) {
      // The same deployment again: fresh download tokens for the job under way.
      if (job.offer.deploymentId === injected.deploymentId) job.offer = injected;
      else if (job.phase === 'downloading') job.abort.abort(new Stopped(`replaced by deployment ${injected.deploymentId}`));
      return;
    }
    this.pump();
  }

  /** Stops a download (kept for a resume); an install under way finishes. */
  stop(): void {
    this.stopped = true;
    this.ready = false;
    if (this.job?.phase === 'downloading') this.job.abort.abort(new Stopped('the agent stops'));
  }

  private pump(): void {
    if (this.job || !this.ready || this.stopped || this.restartPending) return;
    const offer = this.current;
    if (!offer) return;
    const state = this.options.platform.slots.read();
    if (state.pending || state.finished.some((f) => f.deploymentId === offer.deploymentId)) return;
    if (runningVersion(state, this.options.firmwareVersion) === offer.manifest.version) {
      // Already there (installed another way, or the offer outlived a commit whose record is gone).
      this.finish(state, { deploymentId: offer.deploymentId, state: 'succeeded', version: offer.manifest.version, reported: false });
      return;
    }
    const job: Job = { offer, abort: new AbortController(), phase: 'downloading' };
    this.job = job;
    void this.run(job)
      .catch((err: unknown) => {
        if (err instanceof Stopped || job.abort.signal.aborted) {
          this.host.log.info(`OTA deployment ${job.offer.deploymentId} stopped: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        const reason = err instanceof Failure ? err.reason : 'other';
        const message = err instanceof Error ? err.message : String(err);
        this.host.log.error(`OTA deployment ${job.offer.deploymentId} failed (${reason}): ${message}`);
        this.finish(this.options.platform.slots.read(), {
          deploymentId: job.offer.deploymentId,
          state: 'failed',
          reason,
          error: message.slice(0, 500),
          version: runningVersion(this.options.platform.slots.read(), this.options.firmwareVersion),
          reported: false,
        });
      })
      .finally(() => {
        this.job = undefined;
        if (this.restartPending) this.host.restart();
        else this.pump();
      });
  }

  private async run(job: Job): Promise<void> {
    const { platform } = this.options;
    const manifest = job.offer.manifest;
    const from = runningVersion(platform.slots.read(), this.options.firmwareVersion);
    const report = (state: OtaStatusReport['state'], extra: Partial<OtaStatusReport> = {}): void => {
      void this.host.report({ deploymentId: job.offer.deploymentId, state, ...extra });
    };
    this.host.log.info(`OTA deployment ${job.offer.deploymentId}: firmware ${manifest.version} (running ${from ?? 'an unknown version'})`);
    report('downloading', { progress: 0 });
    try {
      await verifyManifestSignature(manifest, job.offer.signature, job.offer.keyId, this.options.keys, this.host.fetchKeys);
    } catch (err) {
      if (err instanceof VerifyError) throw new Failure('verify', err.message);
      throw new Failure('verify', `the signing keys could not be fetched: ${err instanceof Error ? err.message : String(err)}`);
    }
    const image = `image-${manifest.sha256}`;
    let artifact: 'delta' | 'full' = 'full';
    let held = await platform.held(image);
    if (!held) {
      const delta = job.offer.delta;
      if (delta && delta.baseVersion === from && platform.canApplyDelta()) {
        const patch = `delta-${delta.sha256}`;
        try {
          await this.fetch(job, patch, () => job.offer.delta?.url ?? delta.url, delta.size, report);
          const got = await platform.held(patch);
          if (!got || got.sha256 !== delta.sha256.toLowerCase() || got.size !== delta.size) throw new Error(`the delta's SHA-256 or size is not the offer's`);
          await platform.applyDelta(patch, image, manifest);
          artifact = 'delta';
        } catch (err) {
          if (job.abort.signal.aborted) throw err;
          this.host.log.warn(`delta from ${delta.baseVersion} not used (${err instanceof Error ? err.message : String(err)}): downloading the full image`);
        } finally {
          platform.discard(patch);
        }
      }
      if (artifact === 'full') await this.fetch(job, image, () => job.offer.url, manifest.size, report);
      held = await platform.held(image);
    }
    report('downloaded', { artifact });
    try {
      if (!held) throw new VerifyError('the downloaded image is gone');
      verifyImageDigest(held, manifest);
    } catch (err) {
      // A corrupt image is never kept: the next attempt downloads it again.
      platform.discard(image);
      throw new Failure('verify', (err as Error).message);
    }
    job.abort.signal.throwIfAborted();
    job.phase = 'installing';
    const state = platform.slots.read();
    const slot = otherSlot(state.active);
    report('installing', { artifact });
    try {
      await platform.install(image, slot, manifest.version);
    } catch (err) {
      throw new Failure('install', err instanceof Error ? err.message : String(err));
    } finally {
      platform.discard(image);
    }
    // From here the new slot is what the next start boots, once.
    platform.slots.write({ ...platform.slots.read(), pending: { slot, version: manifest.version, deploymentId: job.offer.deploymentId, artifact, booted: false } });
    this.host.log.info(`firmware ${manifest.version} installed into slot ${slot}: restarting into it`);
    this.restartPending = true;
  }

  /** Downloads one artifact; a refused URL (an expired token) is retried once with a fresh offer. */
  private async fetch(job: Job, name: string, url: () => string, size: number, report: (state: 'downloading', extra: Partial<OtaStatusReport>) => void): Promise<void> {
    const { platform } = this.options;
    for (let refreshed = false; ; refreshed = true) {
      const target = this.host.resolveUrl(url());
      if (!target) throw new Failure('download', 'the agent has no HTTP URL (--http-url) to download firmware from');
      try {
        await download(target, platform.sink(name), {
          signal: job.abort.signal,
          size,
          caPem: this.host.caPem,
          cutAt: platform.injectCutAt?.(size),
          onProgress: (progress) => report('downloading', { progress: Math.round(progress * 1000) / 1000 }),
          onCut: (offset, why) => this.host.log.warn(`download of ${name} cut at ${offset} bytes (${why}); resuming`),
          ...(this.options.downloadBackoff ? { backoff: this.options.downloadBackoff } : {}),
          ...(this.options.downloadRetries !== undefined ? { retries: this.options.downloadRetries } : {}),
          ...(this.options.progressStep !== undefined ? { progressStep: this.options.progressStep } : {}),
        });
        return;
      } catch (err) {
        if (job.abort.signal.aborted) throw err;
        const status = err instanceof DownloadError ? err.status : undefined;
        if (!refreshed && status !== undefined && [401, 403, 404, 410].includes(status) && this.host.fetchOffer) {
          const fresh = parseOffer(await this.host.fetchOffer().catch(() => undefined));
          if (fresh && fresh.deploymentId === job.offer.deploymentId) {
            job.offer = this.options.platform.injectOffer?.(fresh) ?? fresh;
            continue;
          }
          if (fresh) this.offer(fresh);
          throw new Stopped('the offer changed while downloading');
        }
        throw new Failure('download', err instanceof Error ? err.message : String(err));
      }
    }
  }

  private rollBack(state: SlotsState, error: string): SlotsState {
    const pending = state.pending!;
    const { pending: _gone, ...rest } = state;
    const versions = { ...state.versions };
    delete versions[pending.slot]; // that slot holds an image that failed: nothing to run or patch
    const next = withFinished(
      { ...rest, versions },
      { deploymentId: pending.deploymentId, state: 'rolled_back', reason: 'self_test', error: error.slice(0, 500), version: runningVersion(state, this.options.firmwareVersion), reported: false },
    );
    this.options.platform.slots.write(next);
    return next;
  }

  private finish(state: SlotsState, outcome: FinishedDeployment): void {
    this.options.platform.slots.write(withFinished(state, outcome));
    void this.deliver(outcome);
  }

  private async deliver(f: FinishedDeployment): Promise<void> {
    await this.host.report({
      deploymentId: f.deploymentId,
      state: f.state,
      ...(f.version !== undefined ? { version: f.version } : {}),
      ...(f.reason !== undefined ? { reason: f.reason } : {}),
      ...(f.error !== undefined ? { error: f.error } : {}),
      ...(f.artifact !== undefined ? { artifact: f.artifact } : {}),
    });
    const slots = this.options.platform.slots;
    const state = slots.read();
    slots.write({ ...state, finished: state.finished.map((x) => (x.deploymentId === f.deploymentId && x.state === f.state ? { ...x, reported: true } : x)) });
  }
}

/** The offer, or undefined when `raw` is not one. */
export function parseOffer(raw: unknown): OtaOffer | undefined {
  if (!isPlainObject(raw)) return undefined;
  if (raw.deploymentId === null) return { deploymentId: null };
  const m = raw.manifest;
  const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  if (!str(raw.deploymentId) || !str(raw.signature) || !str(raw.keyId) || !str(raw.url) || !isPlainObject(m)) return undefined;
  if (m.v !== 1 || !str(m.firmwareId) || !str(m.version) || !Array.isArray(m.deviceTypes) || typeof m.size !== 'number' || !str(m.sha256)) return undefined;
  const d = raw.delta;
  if (d !== null && d !== undefined && (!isPlainObject(d) || !str(d.baseVersion) || !str(d.url) || !str(d.sha256) || typeof d.size !== 'number')) return undefined;
  return raw as unknown as OtaActiveOffer;
}
