import type { Logger } from 'pino';
import type { OtaStatusReport } from '@hangar/protocol';
import { Lwm2mContentFormat, type Lwm2mPath, type Lwm2mValue } from '@hangar/protocol/lwm2m';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import { HangarError } from '../../errors.js';
import type { OtaDevicePort } from '../ota/ota-device-port.js';
import { KeyedSerializer } from '../presence/keyed-serializer.js';
import type { RolloutDevice } from '../rollouts/ports.js';
import type { Stores } from '../stores.js';
import { DEFAULT_AWAKE_MS } from './device-management.js';
import type { FirmwarePackages } from './firmware-packages.js';
import { chooseDelivery, failureOfUpdateResult, FW, FwState } from './firmware-update-mapping.js';
import type { ObjectModelService } from './object-models.js';
import type { Lwm2mDeviceLink, Lwm2mRegistration, Lwm2mRequest, Lwm2mResponse, Lwm2mTarget } from './ports.js';
import type { Lwm2mMapping } from './lwm2m-mapping.js';
import { identityOf, type RegistrationService } from './registration-service.js';

export interface FirmwareUpdateBridgeOptions {
  stores: Stores;
  ota: OtaDevicePort;
  link: Lwm2mDeviceLink;
  registrations: RegistrationService;
  models: ObjectModelService;
  packages: FirmwarePackages;
  /** The Firmware Version read after an update lands in the reported twin like any Object 3 read. */
  mapping: Pick<Lwm2mMapping, 'readValues'>;
  /** `auto` (default): pull when Hangar knows a package URI the device can use, else push. */
  delivery?: 'auto' | 'pull' | 'push' | undefined;
  logger?: Logger | undefined;
  now?: () => number;
  /** As DeviceManagement's: a queue-mode device counts as awake this long after it spoke. */
  awakeMs?: number | undefined;
}

/** What Hangar knows of one device's Object 5 while it delivers an offer. */
interface Delivery {
  deploymentId: string;
  method: 'pull' | 'push';
  /** Last State (5/0/3) and Update Result (5/0/5) heard. */
  state: number | undefined;
  result: number | undefined;
  /** The registration the observations belong to. */
  registrationId: string | undefined;
  cancels: Array<() => Promise<void>>;
  /** Update (5/0/2) was executed for this delivery. */
  executed: boolean;
}

const STOP_GRACE_MS = 2000;
const path = (resourceId: number): Lwm2mPath => ({ objectId: FW.objectId, instanceId: 0, resourceId });
/** Hangar states from which a device may still be told to go on, or be reset. */
const DELIVERING = new Set(['offered', 'downloading', 'downloaded', 'installing']);

/**
 * LwM2M devices in rollouts through Object 5, Firmware Update (LwM2M 1.1 TS-Core Appendix E.6;
 * docs/ota.md, "LwM2M devices (Object 5)"). The same offer every transport serves (`OtaDevicePort`)
 * is delivered by writing its Package URI (5/0/1; the device pulls over CoAP Block2 or HTTP) or
 * by writing the image to Package (5/0/0; a Block1 push). State (5/0/3) and Update Result (5/0/5)
 * are observed and become the device's status reports — so rollouts, the health gate, device
 * history and events work as for any agent:
 *
 * | Object 5                         | OTA report                                  |
 * |----------------------------------|---------------------------------------------|
 * | State 1 Downloading              | `downloading`                               |
 * | State 2 Downloaded               | `downloaded`, then Hangar executes 5/0/2     |
 * | Update executed / State 3        | `installing`                                |
 * | Update Result 1                  | `succeeded` with 3/0/3 (old version → `rolled_back`) |
 * | Update Result 2–9                | `failed` (reason per `failureOfUpdateResult`) |
 *
 * A queue-mode device is reached when it wakes (its next Register or Update). An offer withdrawn
 * before the device updates (abort, timeout) resets the device with an empty Package URI (or Package).
 */
export class FirmwareUpdateBridge {
  private readonly now: () => number;
  private readonly serializer = new KeyedSerializer();
  private readonly deliveries = new Map<string, Delivery>();
  /** Devices whose last step failed (unreachable, a store error): tried again at their next Update. */
  private readonly retry = new Set<string>();
  private readonly off: Unsubscribe[] = [];
  private stopped = false;

  constructor(private readonly options: FirmwareUpdateBridgeOptions) {
    this.now = options.now ?? Date.now;
  }

  start(bus: Pick<EventBus, 'subscribe'>): void {
    this.off.push(bus.subscribe('ota.offer.changed', (e) => this.schedule(e.tenantId, e.deviceId)));
    this.options.registrations.onChange(({ kind, registration }) => {
      if (this.stopped) return;
      const key = deviceKey(registration.tenantId, registration.deviceId);
      const d = this.deliveries.get(key);
      if (kind !== 'updated' && d) {
        // A new registration (a reboot after an update, typically) or its end: the device dropped its observations.
        this.dropObservations(d);
      }
      if (!hasFirmwareObject(registration)) return;
      // The registration at hand saves a read: a register storm (the LwM2M benchmark) costs one membership lookup per device.
      if (kind === 'registered' || (kind === 'updated' && (registration.queueMode || d !== undefined || this.retry.has(key)))) this.schedule(registration.tenantId, registration.deviceId, registration);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.off.splice(0)) u();
    // A step under way may wait on a device for MAX_TRANSMIT_WAIT: shutdown does not. What it was doing is picked up after the restart.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([this.serializer.drain(), new Promise((resolve) => (grace = setTimeout(resolve, STOP_GRACE_MS)))]);
    clearTimeout(grace);
    for (const d of this.deliveries.values()) this.dropObservations(d);
    this.deliveries.clear();
  }

  /** Resolves once the work queued so far is done (tests). */
  idle(): Promise<void> {
    return this.serializer.drain();
  }

  private schedule(tenantId: string, deviceId: string, registration?: Lwm2mRegistration): void {
    if (this.stopped) return;
    const key = deviceKey(tenantId, deviceId);
    this.serializer.run(key, () => this.sync(tenantId, deviceId, registration)).then(
      () => this.retry.delete(key),
      (err: unknown) => {
        if (this.retry.size < 100_000) this.retry.add(key);
        this.options.logger?.info({ err, deviceId }, 'lwm2m firmware update: device not brought in line with its offer; tried again at its next update');
      },
    );
  }

  /** Looks at the device's offer and Object 5 and does the next step. One at a time per device. */
  private async sync(tenantId: string, deviceId: string, given?: Lwm2mRegistration): Promise<void> {
    const registration = given ?? (await this.options.registrations.get(tenantId, deviceId));
    if (!registration || !hasFirmwareObject(registration)) return;
    if (registration.queueMode && this.now() - registration.updatedAt >= (this.options.awakeMs ?? DEFAULT_AWAKE_MS)) return;
    const key = deviceKey(tenantId, deviceId);
    const m = await this.options.stores.rollouts.activeMembership(tenantId, deviceId);
    let d = this.deliveries.get(key);
    if (d && (!m || m.rolloutId !== d.deploymentId)) {
      await this.withdrawn(registration, d);
      d = undefined;
    }
    if (!m || !DELIVERING.has(m.state)) return;
    const target = await this.targetOf(registration);
    if (!d) {
      if (m.state !== 'offered') {
        // Hangar restarted mid-delivery: pick the device's Object 5 up where it is.
        d = { deploymentId: m.rolloutId, method: 'pull', state: undefined, result: undefined, registrationId: undefined, cancels: [], executed: m.state === 'installing' };
        this.deliveries.set(key, d);
      } else {
        await this.deliver(registration, target, m);
        return;
      }
    }
    await this.observe(registration, target, d);
    await this.apply(registration, target, d);
  }

  /** Reads what the device can do, then writes the Package URI (pull) or the Package (push). */
  private async deliver(registration: Lwm2mRegistration, target: Lwm2mTarget, m: RolloutDevice): Promise<void> {
    const { tenantId, deviceId } = registration;
    const offer = await this.options.ota.currentOffer(tenantId, deviceId);
    if (offer.deploymentId === null || offer.deploymentId !== m.rolloutId) return;
    const caps = { delivery: await this.readInteger(target, FW.deliveryMethod), protocols: await this.readIntegers(target, FW.protocolSupport) };
    const choice = chooseDelivery(caps, this.options.packages.pullUri(registration, offer.url), this.options.delivery ?? 'auto');
    if (choice.method === 'none') {
      await this.report(registration, { deploymentId: offer.deploymentId, state: 'failed', reason: 'incompatible', error: `LwM2M firmware update: ${choice.why}` });
      return;
    }
    const d: Delivery = { deploymentId: offer.deploymentId, method: choice.method, state: undefined, result: undefined, registrationId: undefined, cancels: [], executed: false };
    this.deliveries.set(deviceKey(tenantId, deviceId), d);
    await this.observe(registration, target, d);
    if (d.state === FwState.downloading || d.state === FwState.downloaded) {
      // Left mid-way by an earlier delivery (a failed install stays Downloaded): E.6 takes a new package only from Idle.
      await this.request(target, { op: 'write', mode: 'replace', path: path(FW.packageUri), values: [{ path: path(FW.packageUri), type: 'String', value: '' }], format: Lwm2mContentFormat.text });
      // What was heard is stale now; the device's notifications say what comes next.
      d.state = undefined;
    }
    if (choice.method === 'pull') {
      const answer = await this.request(target, { op: 'write', mode: 'replace', path: path(FW.packageUri), values: [{ path: path(FW.packageUri), type: 'String', value: choice.uri }], format: Lwm2mContentFormat.text });
      if (!answer.success) return this.refused(registration, d, 'Package URI write', answer);
      // The write restarted the device's state machine (E.6): what was heard before is stale.
      d.result = 0;
      this.options.logger?.debug({ deviceId, uri: choice.uri }, 'lwm2m firmware update: package URI written');
    } else {
      const image = await this.options.packages.read(offer);
      await this.report(registration, { deploymentId: d.deploymentId, state: 'downloading', progress: 0 });
      d.result = 0;
      const answer = await this.request(target, { op: 'write', mode: 'replace', path: path(FW.package), values: [{ path: path(FW.package), type: 'Opaque', value: image }], format: Lwm2mContentFormat.opaque });
      if (!answer.success) return this.refused(registration, d, 'Package write (push)', answer);
    }
    await this.apply(registration, target, d);
  }

  /** Turns the State and Update Result Hangar has heard into reports and the Update execute. */
  private async apply(registration: Lwm2mRegistration, target: Lwm2mTarget, d: Delivery): Promise<void> {
    const { tenantId, deviceId } = registration;
    const m = await this.options.stores.rollouts.member(tenantId, d.deploymentId, deviceId);
    if (!m || !DELIVERING.has(m.state)) return;
    const base = { deploymentId: d.deploymentId };
    const failure = d.result === undefined ? undefined : failureOfUpdateResult(d.result);
    if (failure) {
      await this.report(registration, { ...base, state: 'failed', ...failure });
      this.forget(registration, d);
      return;
    }
    if (d.result === 1 && m.state !== 'offered') {
      const version = await this.readString(target, { objectId: 3, instanceId: 0, resourceId: 3 }).catch(() => undefined);
      // Rebooting already: its next Register brings it back here, with Object 3 read again.
      if (version === undefined) return;
      // The reported twin first: its `firmwareVersion` is what the health gate compares while verifying, and it must not be the old one.
      await this.options.mapping.readValues(identityOf(registration), [{ path: { objectId: 3, instanceId: 0, resourceId: 3 }, type: 'String', value: version }]);
      await this.report(registration, { ...base, state: 'succeeded', version });
      this.forget(registration, d);
      return;
    }
    if (d.state === FwState.downloading && m.state === 'offered') await this.report(registration, { ...base, state: 'downloading' });
    if (d.state === FwState.downloaded) {
      if (m.state === 'offered' || m.state === 'downloading') await this.report(registration, { ...base, state: 'downloaded', progress: 1 });
      if (!d.executed) {
        d.executed = true;
        const answer = await this.request(target, { op: 'execute', path: path(FW.update) });
        if (!answer.success) {
          d.executed = false;
          return this.refused(registration, d, 'Update execute', answer);
        }
        await this.report(registration, { ...base, state: 'installing' });
      }
    }
    if (d.state === FwState.updating && m.state !== 'installing') await this.report(registration, { ...base, state: 'installing' });
  }

  /** The offer went (abort, timeout, another rollout): a device that has not begun updating is reset (E.6: an empty URI or package). */
  private async withdrawn(registration: Lwm2mRegistration, d: Delivery): Promise<void> {
    this.forget(registration, d);
    if (d.state === FwState.updating || d.result === 1) return;
    const target = await this.targetOf(registration);
    const resource = d.method === 'pull' ? FW.packageUri : FW.package;
    const value = d.method === 'pull' ? '' : Buffer.alloc(0);
    const answer = await this.request(target, { op: 'write', mode: 'replace', path: path(resource), values: [{ path: path(resource), type: d.method === 'pull' ? 'String' : 'Opaque', value }], format: d.method === 'pull' ? Lwm2mContentFormat.text : Lwm2mContentFormat.opaque });
    this.options.logger?.debug({ deviceId: registration.deviceId, code: answer.code }, 'lwm2m firmware update: withdrawn offer reset on the device');
  }

  private async observe(registration: Lwm2mRegistration, target: Lwm2mTarget, d: Delivery): Promise<void> {
    if (d.registrationId === registration.id && d.cancels.length > 0) return;
    this.dropObservations(d);
    d.registrationId = registration.id;
    for (const resourceId of [FW.updateResult, FW.state]) {
      const onValues = (values: Lwm2mValue[]): void => {
        const v = integerAt(values, resourceId);
        if (v === undefined) return;
        if (resourceId === FW.state) d.state = v;
        else d.result = v;
        if (this.deliveries.get(deviceKey(registration.tenantId, registration.deviceId)) !== d) return;
        this.serializer
          .run(deviceKey(registration.tenantId, registration.deviceId), async () => {
            if (this.deliveries.get(deviceKey(registration.tenantId, registration.deviceId)) !== d) return;
            const current = await this.options.registrations.get(registration.tenantId, registration.deviceId);
            if (current?.id === registration.id) await this.apply(current, await this.targetOf(current), d);
          })
          .catch((err: unknown) => this.options.logger?.info({ err, deviceId: registration.deviceId }, 'lwm2m firmware update: notification not applied'));
      };
      const { first, cancel } = await this.options.link.observe(target, { op: 'observe', path: path(resourceId) }, onValues);
      if (first.success) {
        d.cancels.push(cancel);
        const v = integerAt(first.values ?? [], resourceId);
        if (v !== undefined && resourceId === FW.state) d.state = v;
        // (A result from before a delivery's write is stale: `deliver` clears it after the write.)
        if (v !== undefined && resourceId === FW.updateResult) d.result = v;
      }
    }
  }

  private async refused(registration: Lwm2mRegistration, d: Delivery, what: string, answer: Lwm2mResponse): Promise<void> {
    await this.report(registration, { deploymentId: d.deploymentId, state: 'failed', reason: 'download', error: `LwM2M firmware update: the device refused the ${what} (${answer.code}${answer.diagnostic ? `: ${answer.diagnostic}` : ''})` });
    this.forget(registration, d);
  }

  private forget(registration: Lwm2mRegistration, d: Delivery): void {
    const key = deviceKey(registration.tenantId, registration.deviceId);
    if (this.deliveries.get(key) === d) this.deliveries.delete(key);
    this.dropObservations(d);
  }

  private dropObservations(d: Delivery): void {
    for (const cancel of d.cancels.splice(0)) cancel().catch(() => undefined);
    d.registrationId = undefined;
  }

  /** A report the OTA service refuses as out of order lost a race with the engine (a timeout, an abort): nothing to do. */
  private async report(registration: Lwm2mRegistration, report: OtaStatusReport): Promise<void> {
    try {
      await this.options.ota.reportStatus(registration.tenantId, registration.deviceId, report);
    } catch (err) {
      if (err instanceof HangarError && (err.code === 'OTA_STATE_CONFLICT' || err.code === 'OTA_NOT_IN_ROLLOUT')) {
        this.options.logger?.debug({ err, deviceId: registration.deviceId, state: report.state }, 'lwm2m firmware update: report no longer applies');
        return;
      }
      throw err;
    }
  }

  private async targetOf(r: Lwm2mRegistration): Promise<Lwm2mTarget> {
    return { tenantId: r.tenantId, deviceId: r.deviceId, contact: r.contact, rootPath: r.rootPath, contentFormats: r.contentFormats, lwm2mVersion: r.lwm2mVersion, registry: await this.options.models.registryFor(r.tenantId) };
  }

  private request(target: Lwm2mTarget, req: Lwm2mRequest): Promise<Lwm2mResponse> {
    return this.options.link.request(target, req);
  }

  private async readInteger(target: Lwm2mTarget, resourceId: number): Promise<number | undefined> {
    const answer = await this.request(target, { op: 'read', path: path(resourceId) });
    return answer.success ? integerAt(answer.values ?? [], resourceId) : undefined;
  }

  /** A multiple resource's instances (5/0/8); undefined when the device does not have it. */
  private async readIntegers(target: Lwm2mTarget, resourceId: number): Promise<number[] | undefined> {
    const answer = await this.request(target, { op: 'read', path: path(resourceId) });
    if (!answer.success) return undefined;
    return (answer.values ?? []).filter((v) => v.path.resourceId === resourceId).map((v) => toInteger(v.value)).filter((n): n is number => n !== undefined);
  }

  private async readString(target: Lwm2mTarget, p: Lwm2mPath): Promise<string | undefined> {
    const answer = await this.request(target, { op: 'read', path: p });
    const v = answer.success ? answer.values?.find((x) => x.path.resourceId === p.resourceId)?.value : undefined;
    return typeof v === 'string' && v !== '' ? v : undefined;
  }
}

function hasFirmwareObject(r: Lwm2mRegistration): boolean {
  return r.objects.some((o) => o.objectId === FW.objectId && o.instances.includes(0));
}

function deviceKey(tenantId: string, deviceId: string): string {
  return `${tenantId}/${deviceId}`;
}

function integerAt(values: Lwm2mValue[], resourceId: number): number | undefined {
  const v = values.find((x) => x.path.objectId === FW.objectId && x.path.resourceId === resourceId && x.path.resourceInstanceId === undefined);
  return v === undefined ? undefined : toInteger(v.value);
}

function toInteger(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}
