import type { Logger } from 'pino';
import type { OtaActiveOffer, OtaOffer, OtaStatusReport } from '@hangar/protocol';
import type { EventBus } from '../../bus/event-bus.js';
import type { DomainEvent } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import type { ChangeEvents } from '../events/change-events.js';
import type { DeltaCatalog, DownloadLinks, FirmwareCatalog } from '../firmware/catalog.js';
import type { DeviceMoves } from '../rollouts/device-moves.js';
import { HealthGate } from '../rollouts/health-gate.js';
import { OFFER_STATES, type Rollout, type RolloutDevice, type RolloutDevicePatch, type RolloutDeviceState } from '../rollouts/ports.js';
import { TrackedHandlers } from '../rollouts/tracked-handlers.js';
import type { StoreSet, Stores } from '../stores.js';
import type { OtaDevicePort } from './ota-device-port.js';
import { readStatusReport } from './status-report.js';

export interface OtaServiceDeps {
  stores: Stores;
  changeEvents: ChangeEvents;
  moves: DeviceMoves;
  firmware: FirmwareCatalog;
  deltas: DeltaCatalog;
  links: DownloadLinks;
  now: () => number;
  logger?: Logger | undefined;
}

/** A reported version longer than this is not a version (the twin takes any JSON). */
const VERSION_MAX = 128;

/** Where each reported state may come from (`downloading` → `downloading` with more progress is checked apart). */
const ALLOWED_FROM: Record<OtaStatusReport['state'], readonly RolloutDeviceState[]> = {
  downloading: ['offered', 'downloading'],
  downloaded: ['offered', 'downloading'],
  installing: ['offered', 'downloading', 'downloaded'],
  succeeded: ['offered', 'downloading', 'downloaded', 'installing'],
  failed: ['offered', 'downloading', 'downloaded', 'installing', 'verifying'],
  rolled_back: ['offered', 'downloading', 'downloaded', 'installing', 'verifying'],
};

/**
 * The device's side of OTA (OtaDevicePort, docs/rollouts.md): the offer a device is served by
 * every transport, its status reports, and the firmware version it runs — from `succeeded` /
 * `rolled_back` reports and the reported twin's `firmwareVersion` — which is what
 * `devices.firmware_version`, fleet queries and the overview's firmware panel read. Also runs
 * the health gate's and the device departures' bus subscriptions.
 */
export class OtaService implements OtaDevicePort {
  private readonly stores: Stores;
  private readonly now: () => number;
  private readonly gate: HealthGate;
  private readonly handlers: TrackedHandlers;

  constructor(private readonly deps: OtaServiceDeps) {
    this.stores = deps.stores;
    this.now = deps.now;
    this.gate = new HealthGate(deps.stores, deps.moves, deps.now);
    this.handlers = new TrackedHandlers((err, type) => deps.logger?.warn({ err, type }, 'OTA event handling failed'));
  }

  start(bus: Pick<EventBus, 'subscribe'>): void {
    const byDevice = (e: { tenantId: string; deviceId: string }): string => `${e.tenantId}\u0000${e.deviceId}`;
    this.handlers.on(bus, 'twin.reported.changed', byDevice, (e) => this.twinReported(e.tenantId, e.deviceId));
    this.handlers.on(bus, 'device.disconnected', byDevice, (e) => this.gate.disconnected(e.tenantId, e.deviceId, e.at));
    this.handlers.on(bus, 'alert.raised', byDevice, (e) => this.gate.alertRaised(e.tenantId, e.deviceId, e.ruleId, e.ruleName));
    this.handlers.on(bus, 'device.decommissioned', byDevice, (e) => this.deviceLeft(e.tenantId, e.deviceId));
    this.handlers.on(bus, 'device.deleted', byDevice, (e) => this.deviceLeft(e.tenantId, e.deviceId));
  }

  /** Resolves once the events handed to this service so far are handled. */
  idle(): Promise<void> {
    return this.handlers.idle();
  }

  async stop(): Promise<void> {
    this.handlers.stop();
    await this.handlers.idle();
  }

  async currentOffer(tenantId: string, deviceId: string): Promise<OtaOffer> {
    const m = await this.stores.rollouts.activeMembership(tenantId, deviceId);
    if (!m || !(OFFER_STATES as readonly string[]).includes(m.state)) return { deploymentId: null };
    const r = await this.stores.rollouts.get(tenantId, m.rolloutId);
    const image = r && (await this.deps.firmware.image(tenantId, r.firmwareId));
    if (!r || !image) {
      this.deps.logger?.warn({ rolloutId: m.rolloutId, deviceId }, 'the firmware of an offer is gone: nothing offered');
      return { deploymentId: null };
    }
    const full = this.deps.links.image(tenantId, deviceId, image.id);
    let delta: OtaActiveOffer['delta'] = null;
    let expiresAt = full.expiresAt;
    if (r.config.useDeltas && m.fromVersion !== null) {
      const d = await this.deps.deltas.readyDelta(tenantId, image.id, m.fromVersion);
      if (d && d.state === 'ready' && d.size !== null && d.sha256 !== null) {
        const link = this.deps.links.delta(tenantId, deviceId, image.id, d.id);
        delta = { baseVersion: d.baseVersion, format: d.format, size: d.size, sha256: d.sha256, url: link.url };
        expiresAt = Math.min(expiresAt, link.expiresAt);
      }
    }
    return { deploymentId: r.id, manifest: image.manifest, signature: image.signature, keyId: image.keyId, url: full.url, delta, urlExpiresAt: expiresAt, deadline: m.deadline ?? r.config.deviceTimeoutSec * 1000 + (m.offeredAt ?? this.now()) };
  }

  async reportStatus(tenantId: string, deviceId: string, raw: unknown): Promise<void> {
    const report = readStatusReport(raw);
    const m = await this.stores.rollouts.member(tenantId, report.deploymentId, deviceId);
    if (!m) throw new HangarError('OTA_NOT_IN_ROLLOUT', `device "${deviceId}" is not in deployment "${report.deploymentId}"`);
    const conflict = (why: string): HangarError => new HangarError('OTA_STATE_CONFLICT', `deployment "${report.deploymentId}": ${why}`, { state: m.state });
    if (m.state === 'pending') throw conflict('nothing was offered to this device yet');
    if (!(ALLOWED_FROM[report.state] as readonly string[]).includes(m.state) && !isDeltaFallback(m, report)) {
      throw conflict(m.state === report.state ? `${report.state} was reported already` : `${report.state} cannot follow ${m.state}`);
    }
    if (report.state === 'downloading' && m.state === 'downloading' && (report.progress === undefined || (m.progress !== null && report.progress <= m.progress))) {
      throw conflict(`downloading at ${report.progress ?? 'no'} progress repeats or goes back from ${m.progress ?? 'none'}`);
    }
    const now = this.now();
    if (report.state === 'downloading' && m.state === 'downloading') {
      // Progress within a download changes no state: one guarded write, no event and no
      // transaction, since a device sends several (readers poll `progress`).
      const advanced = await this.stores.rollouts.transition(tenantId, m.rolloutId, deviceId, ['downloading'], { progress: report.progress!, ...(report.artifact ? { artifact: report.artifact } : {}), updatedAt: now }, { progressBelow: report.progress! });
      if (!advanced) throw conflict(`the device's state changed meanwhile; downloading at ${report.progress} no longer follows`);
      return;
    }
    const r = await this.stores.rollouts.get(tenantId, m.rolloutId);
    if (!r) throw new HangarError('OTA_NOT_IN_ROLLOUT', `device "${deviceId}" is not in deployment "${report.deploymentId}"`);
    const patch = this.patchFor(r, m, report, now);
    const moved = await this.deps.changeEvents.transaction(this.stores, async (tx, events) => {
      if (!(await this.deps.moves.moveIn(tx, events, m, [m.state], patch))) return false;
      if ((report.state === 'succeeded' || report.state === 'rolled_back') && report.version !== undefined) await this.recordVersion(tx, events, tenantId, deviceId, report.version, now);
      return true;
    });
    // Another report or the engine moved the device first: this one is now out of order.
    if (!moved) throw conflict(`the device's state changed meanwhile; ${report.state} no longer follows`);
  }

  private patchFor(r: Rollout, m: RolloutDevice, report: OtaStatusReport, now: number): RolloutDevicePatch {
    const artifact = report.artifact ?? m.artifact ?? null;
    const error = report.error ?? null;
    switch (report.state) {
      case 'downloading':
        return { state: 'downloading', progress: report.progress ?? null, artifact, updatedAt: now };
      case 'downloaded':
        return { state: 'downloaded', progress: 1, artifact, updatedAt: now };
      case 'installing':
        return { state: 'installing', artifact, updatedAt: now };
      case 'failed':
        return { state: 'failed', reason: report.reason ?? 'other', error, artifact, finishedAt: now, updatedAt: now };
      case 'rolled_back':
        return { state: 'rolled_back', reason: report.reason ?? null, error, artifact, finishedAt: now, updatedAt: now };
      case 'succeeded': {
        const v = report.version;
        // Back on the version it ran before: the install did not hold (DESIGN §5).
        if (v !== undefined && v === m.fromVersion && v !== r.firmwareVersion) return { state: 'rolled_back', reason: null, error: error ?? `reported success but runs its old version ${v}`, artifact, finishedAt: now, updatedAt: now };
        if (v !== undefined && v !== r.firmwareVersion) return { state: 'failed', reason: 'install', error: `reported success on version ${v}; the rollout installs ${r.firmwareVersion}`, artifact, finishedAt: now, updatedAt: now };
        const windowSec = r.config.healthGate.windowSec;
        if (windowSec === 0) return { state: 'succeeded', artifact, progress: 1, finishedAt: now, updatedAt: now };
        return { state: 'verifying', artifact, progress: 1, healthUntil: now + windowSec * 1000, disconnects: 0, updatedAt: now };
      }
    }
  }

  /** The reported twin's `firmwareVersion` is the version the device runs. */
  private async twinReported(tenantId: string, deviceId: string): Promise<void> {
    const twin = await this.stores.twins.get(tenantId, deviceId);
    const v = twin?.reported.properties.firmwareVersion;
    if (typeof v !== 'string' || v === '' || v.length > VERSION_MAX) return;
    const device = await this.stores.devices.get(tenantId, deviceId);
    if (!device) return;
    const m = await this.stores.rollouts.activeMembership(tenantId, deviceId);
    const r = m && m.state === 'verifying' ? await this.stores.rollouts.get(tenantId, m.rolloutId) : undefined;
    const now = this.now();
    await this.deps.changeEvents.transaction(this.stores, async (tx, events) => {
      if (device.firmwareVersion !== v) await this.recordVersion(tx, events, tenantId, deviceId, v, now);
      // Seen on its old version inside the health window: it came back from the install.
      if (m && r && v === m.fromVersion && v !== r.firmwareVersion) {
        await this.deps.moves.moveIn(tx, events, m, ['verifying'], { state: 'rolled_back', reason: null, error: `came back on its old version ${v}`, finishedAt: now, updatedAt: now });
      }
    });
  }

  private async recordVersion(tx: StoreSet, events: DomainEvent[], tenantId: string, deviceId: string, version: string, at: number): Promise<void> {
    // `device.updated`: fleet-query consumers (dynamic groups, configurations, alerts) look again.
    if (await tx.rollouts.setFirmwareVersion(tenantId, deviceId, version, at)) events.push({ type: 'device.updated', tenantId, deviceId });
  }

  /** A decommissioned or deleted device leaves its rollout. */
  private async deviceLeft(tenantId: string, deviceId: string): Promise<void> {
    const m = await this.stores.rollouts.activeMembership(tenantId, deviceId);
    if (m) await this.deps.moves.finish(m, [m.state], 'cancelled', { reason: 'decommissioned', error: null }, this.now());
  }
}

/** A delta that would not apply: the device downloads the full image after all (ota.ts `patch`). */
function isDeltaFallback(m: RolloutDevice, report: OtaStatusReport): boolean {
  return report.state === 'downloading' && m.state === 'downloaded' && m.artifact === 'delta' && report.artifact === 'full';
}
