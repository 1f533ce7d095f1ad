import type { Logger } from 'pino';
import { NotificationSink, type NotificationSinkLimits } from './notification-sink.js';
import { formatPath, type Lwm2mPath, type Lwm2mValue, type ObjectRegistry } from '@hangar/protocol/lwm2m';
import { HangarError } from '../../errors.js';
import type { CallContext } from '../context.js';
import type { DeviceIdentity } from '../identity/device-authenticator.js';
import { requireRole } from '../tenancy/principal.js';
import { newId } from '../tenancy/secrets.js';
import type { Lwm2mMapping } from './lwm2m-mapping.js';
import type { ObjectModelService } from './object-models.js';
import type { Lwm2mDeviceLink, Lwm2mRegistration, Lwm2mRequest, Lwm2mResponse, Lwm2mTarget } from './ports.js';
import { identityOf, type RegistrationService } from './registration-service.js';
import { valuesFromJson } from './json-values.js';

/** LwM2M 1.1 TS-Transport §6.4 / RFC 7252 MAX_TRANSMIT_WAIT: a queue-mode device listens this long after it spoke. */
export const DEFAULT_AWAKE_MS = 93_000;
const DEFAULT_MAX_QUEUED = 32;
const DEFAULT_MAX_REMEMBERED = 1000;

export interface DeviceLwm2mView {
  registration: Lwm2mRegistration | undefined;
  objects: Array<{ id: number; name: string | null; version?: string; instances: number[]; resources: Array<{ id: number; name: string; operations: string; type: string; multiple: boolean; units?: string }> }>;
  observations: string[][];
  pending: QueuedRequestView[];
}

/** What an operation came to: done now, or held for a queue-mode device's next update. */
export type OperationResult = { status: 'completed'; response: Lwm2mResponse } | { status: 'queued'; requestId: string };

/** A request held for a sleeping device, and later what became of it. */
export interface QueuedRequestView {
  id: string;
  deviceId: string;
  op: Lwm2mRequest['op'];
  state: 'queued' | 'sent' | 'completed' | 'failed';
  createdAt: number;
  response?: Lwm2mResponse;
  error?: string;
}

interface Queued extends QueuedRequestView {
  tenantId: string;
  request: Lwm2mRequest;
}

interface ActiveObservation {
  key: string;
  paths: Lwm2mPath[];
  cancel(): Promise<void>;
}

export interface DeviceManagementOptions {
  link: Lwm2mDeviceLink;
  registrations: RegistrationService;
  models: ObjectModelService;
  mapping: Lwm2mMapping;
  logger?: Logger | undefined;
  now?: () => number;
  /** How long a queue-mode device counts as awake after a register or update (default 93 s). */
  awakeMs?: number;
  /** Requests held per sleeping device (default 32); past it, 429. */
  maxQueuedPerDevice?: number;
  /** Read Object 3 right after each Register, so device info and firmware version are fresh (default true). */
  readDeviceInfoOnRegister?: boolean;
  /** Bounds on observe notifications waiting to be stored. */
  notificationLimits?: Partial<NotificationSinkLimits>;
}

/**
 * LwM2M device management (TS-Core §6.3, §6.4) for REST and the twin: each operation goes to the
 * device through the `Lwm2mDeviceLink` port; a queue-mode device (TS-Core §6.5) that is asleep
 * gets it after its next Update or Register, and the caller a request id to ask after it. Read,
 * observed and Sent values go through the mapping (telemetry, reported twin).
 *
 * Held requests and observations live in this process: a restart forgets them (the device
 * re-registers and the operator asks again). Observations end with their registration (§6.2.1: a
 * new Register cancels them on the device too).
 */
export class DeviceManagement {
  private readonly now: () => number;
  private readonly queues = new Map<string, Queued[]>();
  private readonly requests = new Map<string, Queued>();
  private readonly observations = new Map<string, Map<string, ActiveObservation>>();
  private readonly flushing = new Map<string, Promise<void>>();

  /** Observe notifications on their way to telemetry and the reported twin (bounded). */
  readonly notifications: NotificationSink<{ identity: DeviceIdentity; values: Lwm2mValue[]; registry: ObjectRegistry }>;

  constructor(private readonly options: DeviceManagementOptions) {
    this.now = options.now ?? Date.now;
    this.notifications = new NotificationSink((n) => options.mapping.pushedValues(n.identity, n.values, n.registry), options.logger, options.notificationLimits);
    options.registrations.onChange(({ kind, registration }) => {
      const key = deviceKey(registration.tenantId, registration.deviceId);
      if (kind === 'registered' || kind === 'deregistered' || kind === 'expired') this.forgetObservations(key);
      if (kind === 'registered' || kind === 'updated') {
        if (kind === 'registered' && options.readDeviceInfoOnRegister !== false) this.readDeviceInfo(registration);
        this.flush(registration);
      }
    });
  }

  /** Runs an operation on a device's registration, or holds it while a queue-mode device sleeps. */
  async perform(ctx: CallContext, deviceId: string, request: Lwm2mRequest): Promise<OperationResult> {
    requireRole(ctx.principal, isReadOnly(request) ? 'viewer' : 'operator');
    const registration = await this.registrationOf(ctx.principal.tenantId, deviceId);
    if (registration.queueMode && !this.awake(registration)) return { status: 'queued', requestId: this.enqueue(registration, request) };
    return { status: 'completed', response: await this.send(registration, request) };
  }

  /** Write-Replace (PUT) or Write-Partial-Update (POST) from REST JSON, typed by the tenant's registry. */
  async write(ctx: CallContext, deviceId: string, path: Lwm2mPath, mode: 'replace' | 'partial', body: unknown, format?: number): Promise<OperationResult> {
    const registry = await this.options.models.registryFor(ctx.principal.tenantId);
    const values = valuesFromJson(path, body, registry);
    return this.perform(ctx, deviceId, { op: 'write', mode, path, values, ...(format !== undefined ? { format } : {}) });
  }

  /**
   * Create (POST on the object, TS-Core §5.4.6) from REST JSON. Without an instance id Hangar
   * names the lowest one the registration does not list, so the values always carry their path.
   */
  async create(ctx: CallContext, deviceId: string, objectId: number, instanceId: number | undefined, body: unknown): Promise<OperationResult> {
    requireRole(ctx.principal, 'operator');
    const registration = await this.registrationOf(ctx.principal.tenantId, deviceId);
    const taken = new Set(registration.objects.find((o) => o.objectId === objectId)?.instances ?? []);
    let id = instanceId ?? 0;
    if (instanceId === undefined) while (taken.has(id)) id += 1;
    const registry = await this.options.models.registryFor(ctx.principal.tenantId);
    const values = valuesFromJson({ objectId, instanceId: id }, body, registry, { create: true });
    return this.perform(ctx, deviceId, { op: 'create', path: { objectId }, values });
  }

  /** What REST shows of a device: its registration, its objects named by the registry, observations, held requests. */
  async describe(ctx: CallContext, deviceId: string): Promise<DeviceLwm2mView> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    if (!(await this.options.registrations.deviceExists(tenantId, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    const registration = await this.options.registrations.get(tenantId, deviceId);
    const registry = await this.options.models.registryFor(tenantId);
    const objects = (registration?.objects ?? []).map((o) => {
      const model = registry.get(o.objectId, o.version);
      return {
        id: o.objectId,
        name: model?.name ?? null,
        ...(o.version !== undefined ? { version: o.version } : {}),
        instances: o.instances,
        resources: (model?.resources ?? []).map((r) => ({ id: r.id, name: r.name, operations: r.operations, type: r.type, multiple: r.multiple, ...(r.units ? { units: r.units } : {}) })),
      };
    });
    return { registration, objects, observations: this.activeObservations(tenantId, deviceId), pending: this.pending(tenantId, deviceId) };
  }

  /** Starts an Observe (or Observe-Composite); its notifications become telemetry and reported twin values. */
  async observe(ctx: CallContext, deviceId: string, request: Extract<Lwm2mRequest, { op: 'observe' | 'observe-composite' }>): Promise<Lwm2mResponse> {
    requireRole(ctx.principal, 'operator');
    const registration = await this.registrationOf(ctx.principal.tenantId, deviceId);
    if (registration.queueMode && !this.awake(registration)) throw new HangarError('CONFLICT', `device "${deviceId}" is asleep (queue mode): an observation can start only while it is awake, after its next update`);
    const paths = request.op === 'observe' ? [request.path] : request.paths;
    const key = observationKey(paths);
    const dkey = deviceKey(registration.tenantId, deviceId);
    await this.observations.get(dkey)?.get(key)?.cancel().catch(() => undefined);
    const target = await this.targetOf(registration);
    const identity = identityOf(registration);
    const { first, cancel } = await this.options.link.observe(target, request, (values) => {
      this.notifications.push({ identity, values, registry: target.registry });
    });
    if (first.success) {
      let perDevice = this.observations.get(dkey);
      if (!perDevice) this.observations.set(dkey, (perDevice = new Map()));
      perDevice.set(key, { key, paths, cancel });
      if (first.values) await this.options.mapping.pushedValues(identity, first.values, target.registry).catch((err: unknown) => this.options.logger?.info({ err, deviceId }, 'lwm2m: first observed values not stored'));
    }
    return first;
  }

  /** Cancels an observation (RFC 7641 §3.6, an Observe 1 GET); false when there was none. */
  async cancelObservation(ctx: CallContext, deviceId: string, paths: Lwm2mPath[]): Promise<boolean> {
    requireRole(ctx.principal, 'operator');
    const perDevice = this.observations.get(deviceKey(ctx.principal.tenantId, deviceId));
    const o = perDevice?.get(observationKey(paths));
    if (!o) return false;
    perDevice!.delete(o.key);
    await o.cancel();
    return true;
  }

  /** The device's active observations (paths as text). */
  activeObservations(tenantId: string, deviceId: string): string[][] {
    return [...(this.observations.get(deviceKey(tenantId, deviceId))?.values() ?? [])].map((o) => o.paths.map(formatPath));
  }

  requestStatus(ctx: CallContext, deviceId: string, requestId: string): QueuedRequestView {
    const q = this.requests.get(requestId);
    if (!q || q.tenantId !== ctx.principal.tenantId || q.deviceId !== deviceId) throw new HangarError('NOT_FOUND', `no LwM2M request "${requestId}" for device "${deviceId}"`);
    return viewOf(q);
  }

  /** Requests still held for a device. */
  pending(tenantId: string, deviceId: string): QueuedRequestView[] {
    return (this.queues.get(deviceKey(tenantId, deviceId)) ?? []).map(viewOf);
  }

  /** Writes values (a desired-twin change) now or at the device's next wake-up; used by the desired-twin writer. */
  async writeFromTwin(tenantId: string, deviceId: string, values: Lwm2mValue[]): Promise<void> {
    const registration = await this.options.registrations.get(tenantId, deviceId);
    if (!registration) return;
    for (const [instancePath, vals] of byInstance(values)) {
      const request: Lwm2mRequest = { op: 'write', mode: 'partial', path: instancePath, values: vals };
      if (registration.queueMode && !this.awake(registration)) this.enqueue(registration, request);
      else await this.send(registration, request).catch((err: unknown) => this.options.logger?.info({ err, deviceId }, 'lwm2m: desired write failed'));
    }
  }

  private async registrationOf(tenantId: string, deviceId: string): Promise<Lwm2mRegistration> {
    const r = await this.options.registrations.get(tenantId, deviceId);
    if (!r) throw new HangarError('LWM2M_NOT_REGISTERED', `device "${deviceId}" has no LwM2M registration`);
    return r;
  }

  private awake(r: Lwm2mRegistration): boolean {
    return this.now() - r.updatedAt < (this.options.awakeMs ?? DEFAULT_AWAKE_MS);
  }

  private async targetOf(r: Lwm2mRegistration): Promise<Lwm2mTarget> {
    return { tenantId: r.tenantId, deviceId: r.deviceId, contact: r.contact, rootPath: r.rootPath, contentFormats: r.contentFormats, lwm2mVersion: r.lwm2mVersion, registry: await this.options.models.registryFor(r.tenantId) };
  }

  private async send(r: Lwm2mRegistration, request: Lwm2mRequest): Promise<Lwm2mResponse> {
    const response = await this.options.link.request(await this.targetOf(r), request);
    // What was read, and what a device accepted in a write, is what it now reports.
    const reported = !response.success ? undefined : request.op === 'read' || request.op === 'read-composite' ? response.values : request.op === 'write' ? request.values : undefined;
    if (reported && reported.length > 0) {
      await this.options.mapping.readValues(identityOf(r), reported).catch((err: unknown) => this.options.logger?.info({ err, deviceId: r.deviceId }, 'lwm2m: values not reported'));
    }
    return response;
  }

  private enqueue(r: Lwm2mRegistration, request: Lwm2mRequest): string {
    const key = deviceKey(r.tenantId, r.deviceId);
    const queue = this.queues.get(key) ?? [];
    if (queue.length >= (this.options.maxQueuedPerDevice ?? DEFAULT_MAX_QUEUED)) throw new HangarError('RATE_LIMITED', `device "${r.deviceId}" already has ${queue.length} requests waiting for it to wake up`);
    const q: Queued = { id: newId('lwq'), tenantId: r.tenantId, deviceId: r.deviceId, op: request.op, request, state: 'queued', createdAt: this.now() };
    queue.push(q);
    this.queues.set(key, queue);
    this.remember(q);
    return q.id;
  }

  private remember(q: Queued): void {
    this.requests.set(q.id, q);
    if (this.requests.size > DEFAULT_MAX_REMEMBERED) {
      for (const [id, old] of this.requests) {
        if (old.state === 'queued' || old.state === 'sent') continue;
        this.requests.delete(id);
        break;
      }
    }
  }

  /** Sends what was held for the device, one request after another, while it is awake. */
  private flush(r: Lwm2mRegistration): void {
    const key = deviceKey(r.tenantId, r.deviceId);
    if (this.flushing.has(key) || !this.queues.get(key)?.length) return;
    const run = (async () => {
      for (;;) {
        const queue = this.queues.get(key);
        const q = queue?.shift();
        if (!q) break;
        if (queue!.length === 0) this.queues.delete(key);
        q.state = 'sent';
        try {
          q.response = await this.send(r, q.request);
          q.state = 'completed';
        } catch (err) {
          q.state = 'failed';
          q.error = err instanceof Error ? err.message : String(err);
        }
      }
    })().finally(() => this.flushing.delete(key));
    this.flushing.set(key, run);
  }

  private readDeviceInfo(r: Lwm2mRegistration): void {
    if (!r.objects.some((o) => o.objectId === 3)) return;
    this.send(r, { op: 'read', path: { objectId: 3, instanceId: 0 } }).catch((err: unknown) => this.options.logger?.debug({ err, deviceId: r.deviceId }, 'lwm2m: Object 3 not read after register'));
  }

  /** The registration ended or was replaced: its observations go (RFC 7641 §3.6 cancel, best effort: the device may be gone). */
  private forgetObservations(key: string): void {
    const perDevice = this.observations.get(key);
    this.observations.delete(key);
    for (const o of perDevice?.values() ?? []) o.cancel().catch(() => undefined);
  }

  /** Waits for held requests being sent (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.flushing.values(), this.notifications.drain()]);
  }
}

function deviceKey(tenantId: string, deviceId: string): string {
  return `${tenantId}/${deviceId}`;
}

function observationKey(paths: Lwm2mPath[]): string {
  return paths.map(formatPath).sort().join(',');
}

function isReadOnly(r: Lwm2mRequest): boolean {
  return r.op === 'read' || r.op === 'discover' || r.op === 'read-composite';
}

function viewOf(q: Queued): QueuedRequestView {
  const { tenantId: _t, request: _r, ...view } = q;
  return { ...view };
}

/** Values grouped by their object instance (a Write targets one instance or resource). */
function byInstance(values: Lwm2mValue[]): Array<[Lwm2mPath, Lwm2mValue[]]> {
  const groups = new Map<string, [Lwm2mPath, Lwm2mValue[]]>();
  for (const v of values) {
    const path = { objectId: v.path.objectId, instanceId: v.path.instanceId };
    const k = `${path.objectId}/${path.instanceId}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = [path, []]));
    g[1].push(v);
  }
  return [...groups.values()];
}
