import { OTA_DEVICE_STATES, type OtaActiveOffer, type OtaDeviceState, type OtaOffer, type OtaStatusReport } from '@hangar/protocol';
import { readStatusReport } from '../core/ota/status-report.js';
import type { EventBus } from '../bus/event-bus.js';
import type { OtaDevicePort } from '../core/ota/ota-device-port.js';
import { HangarError } from '../errors.js';

/**
 * A small real OtaDevicePort for the transport tests, until the rollout engine (core OtaService)
 * is wired in its place: offers held per device, reports checked the way the port's contract
 * says (malformed, unknown deployment, out of order or repeated) and recorded. Setting or
 * withdrawing an offer publishes `ota.offer.changed`, as the engine does.
 */
export class TestOtaPort implements OtaDevicePort {
  /** Reports accepted, in order. */
  readonly reports: Array<{ tenantId: string; deviceId: string; report: OtaStatusReport }> = [];
  /** `currentOffer` calls so far (a push reads at send time, not at event time). */
  reads = 0;
  private readonly offers = new Map<string, OtaOffer>();
  /** Deployments ever offered to a device: reports for them are in; any other is not. */
  private readonly deployments = new Map<string, Set<string>>();
  /** The last accepted state (and progress) per device and deployment. */
  private readonly progress = new Map<string, { state: OtaDeviceState; progress: number }>();
  private bus: Pick<EventBus, 'publish'> | undefined;

  /** The bus `ota.offer.changed` goes to (the Hangar's, once it exists). */
  attach(bus: Pick<EventBus, 'publish'>): this {
    this.bus = bus;
    return this;
  }

  offer(tenantId: string, deviceId: string, offer: OtaActiveOffer): void {
    const key = deviceKey(tenantId, deviceId);
    this.offers.set(key, offer);
    let known = this.deployments.get(key);
    if (!known) this.deployments.set(key, (known = new Set()));
    known.add(offer.deploymentId);
    this.bus?.publish({ type: 'ota.offer.changed', tenantId, deviceId, rolloutId: offer.deploymentId });
  }

  withdraw(tenantId: string, deviceId: string): void {
    this.offers.set(deviceKey(tenantId, deviceId), { deploymentId: null });
    this.bus?.publish({ type: 'ota.offer.changed', tenantId, deviceId, rolloutId: null });
  }

  async currentOffer(tenantId: string, deviceId: string): Promise<OtaOffer> {
    this.reads += 1;
    return this.offers.get(deviceKey(tenantId, deviceId)) ?? { deploymentId: null };
  }

  async reportStatus(tenantId: string, deviceId: string, body: unknown): Promise<void> {
    const report = readStatusReport(body);
    const key = deviceKey(tenantId, deviceId);
    if (!this.deployments.get(key)?.has(report.deploymentId)) throw new HangarError('OTA_NOT_IN_ROLLOUT', `this device is not in deployment ${report.deploymentId}`);
    const progressKey = `${key}\u0000${report.deploymentId}`;
    const last = this.progress.get(progressKey);
    const progress = report.progress ?? 0;
    if (last) {
      const forward = rank(report.state) > rank(last.state) || (report.state === 'downloading' && last.state === 'downloading' && progress > last.progress);
      if (!forward) throw new HangarError('OTA_STATE_CONFLICT', `a ${report.state} report cannot follow ${last.state}`, { state: last.state });
    }
    this.progress.set(progressKey, { state: report.state, progress });
    this.reports.push({ tenantId, deviceId, report });
  }
}

/** A plausible offer (the signature and URLs are placeholders: transports pass them through as they are). */
export function testOffer(deploymentId: string, version = '2.1.0'): OtaActiveOffer {
  return {
    deploymentId,
    manifest: { v: 1, firmwareId: `fw-${version}`, version, deviceTypes: [], size: 262_144, sha256: 'ab'.repeat(32) },
    signature: 'c2lnbmF0dXJl',
    keyId: 'key-1',
    url: `/device/v1/firmware/fw-${version}/image?t=token`,
    delta: null,
    urlExpiresAt: 1_900_000_000_000,
    deadline: 1_900_000_000_000,
  };
}

function deviceKey(tenantId: string, deviceId: string): string {
  return `${tenantId}\u0000${deviceId}`;
}

/** Terminal states share the last rank: nothing follows them. */
function rank(state: OtaDeviceState): number {
  return Math.min(OTA_DEVICE_STATES.indexOf(state), 3);
}

