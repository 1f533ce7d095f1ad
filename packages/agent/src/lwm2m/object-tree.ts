/**
 * The client's object instances and their resources (LwM2M 1.1 TS-Core §6.3, §7.1): what Read,
 * Write, Execute, Create, Delete and Discover act on. Resources are typed by the object model
 * of the registry; a resource holds a stored value, or reads and writes through hooks (the
 * Device object's clock, the firmware state machine).
 */
import type { LinkAttributes, LinkEntry, Lwm2mPath, Lwm2mValue, ObjectModel, ObjectRegistry, ResourceModel, ResourceValue } from '@hangar/protocol/lwm2m';
import { CoapCode } from '@hangar/protocol/coap';

/** A single value, or the instances of a multiple resource by resource-instance id. */
export type StoredValue = ResourceValue | Map<number, ResourceValue>;

export interface ResourceHooks {
  read?(): StoredValue | undefined;
  /** Throw `Lwm2mOperationError` to refuse. */
  write?(value: StoredValue): void;
  execute?(args: string): void;
}

/** An operation refused with a CoAP response code (4.04, 4.05, 4.00 …) and a reason. */
export class Lwm2mOperationError extends Error {
  override readonly name = 'Lwm2mOperationError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class ObjectInstance {
  private readonly values = new Map<number, StoredValue>();
  private readonly hooks = new Map<number, ResourceHooks>();

  constructor(
    readonly model: ObjectModel,
    readonly id: number,
  ) {}

  resource(resourceId: number): ResourceModel | undefined {
    return this.model.resources.find((r) => r.id === resourceId);
  }

  set(resourceId: number, value: StoredValue): this {
    this.values.set(resourceId, value);
    return this;
  }

  hook(resourceId: number, hooks: ResourceHooks): this {
    this.hooks.set(resourceId, hooks);
    return this;
  }

  get(resourceId: number): StoredValue | undefined {
    const read = this.hooks.get(resourceId)?.read;
    return read ? read() : this.values.get(resourceId);
  }

  /** Ids of the resources this instance has (a value, a reader, or an executable hook). */
  present(): number[] {
    const ids = new Set<number>([...this.values.keys()]);
    for (const [id, hooks] of this.hooks) if (hooks.read || hooks.execute) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  write(resourceId: number, value: StoredValue): void {
    const hooks = this.hooks.get(resourceId);
    if (hooks?.write) hooks.write(value);
    else this.values.set(resourceId, value);
  }

  remove(resourceId: number): void {
    this.values.delete(resourceId);
  }

  execute(resourceId: number, args: string): void {
    const execute = this.hooks.get(resourceId)?.execute;
    if (!execute) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, `/${this.model.id}/${this.id}/${resourceId} is not executable here`);
    execute(args);
  }
}

/** Whether the caller is the bootstrap server (Bootstrap-Write ignores access rights, Core §6.1.7.5) or a management server. */
export type Caller = 'server' | 'bootstrap';

export class ObjectTree {
  private readonly objects = new Map<number, Map<number, ObjectInstance>>();

  constructor(readonly registry: ObjectRegistry) {}

  model(objectId: number): ObjectModel {
    const model = this.registry.get(objectId);
    if (!model) throw new Lwm2mOperationError(CoapCode.NotFound, `object ${objectId} is not supported`);
    return model;
  }

  /** Declares an object the client supports, possibly without instances yet. */
  support(objectId: number): void {
    this.model(objectId);
    if (!this.objects.has(objectId)) this.objects.set(objectId, new Map());
  }

  supports(objectId: number): boolean {
    return this.objects.has(objectId);
  }

  addInstance(objectId: number, instanceId: number): ObjectInstance {
    this.support(objectId);
    const instance = new ObjectInstance(this.model(objectId), instanceId);
    this.objects.get(objectId)!.set(instanceId, instance);
    return instance;
  }

  instance(objectId: number, instanceId: number): ObjectInstance | undefined {
    return this.objects.get(objectId)?.get(instanceId);
  }

  instances(objectId: number): ObjectInstance[] {
    return [...(this.objects.get(objectId)?.values() ?? [])].sort((a, b) => a.id - b.id);
  }

  objectIds(): number[] {
    return [...this.objects.keys()].sort((a, b) => a - b);
  }

  deleteInstance(objectId: number, instanceId: number): boolean {
    return this.objects.get(objectId)?.delete(instanceId) ?? false;
  }

  /** Every value under a path as the codecs take them (Core §6.3.1 Read); 4.04 for what is absent. */
  read(path: Lwm2mPath, caller: Caller = 'server'): Lwm2mValue[] {
    if (path.objectId === undefined) {
      return this.objectIds().flatMap((o) => (caller === 'server' && o === 0 ? [] : this.read({ objectId: o }, caller)));
    }
    this.checkAccess(path.objectId, caller);
    const instances = path.instanceId === undefined ? this.instances(path.objectId) : [this.requireInstance(path.objectId, path.instanceId)];
    if (!this.objects.has(path.objectId)) throw new Lwm2mOperationError(CoapCode.NotFound, `object ${path.objectId} is not supported`);
    const out: Lwm2mValue[] = [];
    for (const instance of instances) {
      const ids = path.resourceId === undefined ? instance.present() : [path.resourceId];
      for (const rid of ids) {
        const model = instance.resource(rid);
        if (!model) throw new Lwm2mOperationError(CoapCode.NotFound, `/${path.objectId}/${instance.id}/${rid} does not exist`);
        if (model.operations === 'E' || model.operations === 'W' || model.operations === '') {
          if (path.resourceId !== undefined && caller === 'server') throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, `/${path.objectId}/${instance.id}/${rid} is not readable`);
          continue;
        }
        const value = instance.get(rid);
        if (value === undefined) {
          if (path.resourceId !== undefined) throw new Lwm2mOperationError(CoapCode.NotFound, `/${path.objectId}/${instance.id}/${rid} has no value`);
          continue;
        }
        const base = { objectId: path.objectId, instanceId: instance.id, resourceId: rid };
        if (value instanceof Map) {
          for (const [ri, v] of [...value].sort((a, b) => a[0] - b[0])) {
            if (path.resourceInstanceId !== undefined && ri !== path.resourceInstanceId) continue;
            out.push({ path: { ...base, resourceInstanceId: ri }, type: model.type, value: v });
          }
          if (path.resourceInstanceId !== undefined && !value.has(path.resourceInstanceId)) throw new Lwm2mOperationError(CoapCode.NotFound, `resource instance ${path.resourceInstanceId} does not exist`);
        } else {
          if (path.resourceInstanceId !== undefined) throw new Lwm2mOperationError(CoapCode.NotFound, 'a single resource has no resource instances');
          out.push({ path: base, type: model.type, value });
        }
      }
    }
    return out;
  }

  /**
   * Write (Core §6.3.3): `replace` (PUT) replaces the instance or resource, a partial update
   * (POST) changes only the resources given. A bootstrap write creates a missing instance.
   */
  write(path: Lwm2mPath, values: Lwm2mValue[], options: { replace: boolean; caller: Caller }): void {
    if (path.objectId === undefined) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, 'write on the root');
    this.checkAccess(path.objectId, options.caller);
    if (options.caller === 'bootstrap') this.support(path.objectId);
    const groups = new Map<number, Map<number, Lwm2mValue[]>>();
    for (const v of values) {
      const { objectId, instanceId, resourceId } = v.path;
      if (objectId !== path.objectId || instanceId === undefined || resourceId === undefined) throw new Lwm2mOperationError(CoapCode.BadRequest, 'a value outside the path written');
      if (path.instanceId !== undefined && instanceId !== path.instanceId) throw new Lwm2mOperationError(CoapCode.BadRequest, 'a value outside the path written');
      if (path.resourceId !== undefined && resourceId !== path.resourceId) throw new Lwm2mOperationError(CoapCode.BadRequest, 'a value outside the path written');
      const byResource = groups.get(instanceId) ?? new Map<number, Lwm2mValue[]>();
      groups.set(instanceId, byResource);
      byResource.set(resourceId, [...(byResource.get(resourceId) ?? []), v]);
    }
    // Check everything before changing anything: a refused write leaves the instance as it was.
    const plan: { instance: ObjectInstance | undefined; instanceId: number; resources: Map<number, Lwm2mValue[]> }[] = [];
    for (const [instanceId, resources] of groups) {
      const instance = this.instance(path.objectId, instanceId);
      if (!instance && options.caller !== 'bootstrap') throw new Lwm2mOperationError(CoapCode.NotFound, `/${path.objectId}/${instanceId} does not exist`);
      for (const [rid, vs] of resources) {
        const model = (instance?.model ?? this.model(path.objectId)).resources.find((r) => r.id === rid);
        if (!model) throw new Lwm2mOperationError(CoapCode.NotFound, `/${path.objectId}/${instanceId}/${rid} does not exist`);
        if (options.caller === 'server' && !model.operations.includes('W')) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, `/${path.objectId}/${instanceId}/${rid} is not writable`);
        if (!model.multiple && vs.some((v) => v.path.resourceInstanceId !== undefined)) throw new Lwm2mOperationError(CoapCode.BadRequest, `/${path.objectId}/${instanceId}/${rid} is a single resource`);
      }
      plan.push({ instance, instanceId, resources });
    }
    for (const { instanceId, resources } of plan) {
      const instance = this.instance(path.objectId, instanceId) ?? this.addInstance(path.objectId, instanceId);
      const replaceInstance = options.replace && path.resourceId === undefined;
      if (replaceInstance && options.caller === 'server') {
        for (const rid of instance.present()) {
          const model = instance.resource(rid);
          if (model?.operations.includes('W') && model.operations !== 'E' && !resources.has(rid)) instance.remove(rid);
        }
      }
      for (const [rid, vs] of resources) {
        const model = instance.resource(rid)!;
        if (model.multiple) {
          const replace = options.replace && path.resourceInstanceId === undefined;
          const current = instance.get(rid);
          const next = replace || !(current instanceof Map) ? new Map<number, ResourceValue>() : new Map(current);
          for (const v of vs) next.set(v.path.resourceInstanceId ?? 0, v.value);
          instance.write(rid, next);
        } else {
          instance.write(rid, vs[vs.length - 1]!.value);
        }
      }
    }
  }

  execute(path: Lwm2mPath, args: string): void {
    if (path.objectId === undefined || path.instanceId === undefined || path.resourceId === undefined || path.resourceInstanceId !== undefined) {
      throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, 'execute needs /object/instance/resource');
    }
    this.checkAccess(path.objectId, 'server');
    const instance = this.requireInstance(path.objectId, path.instanceId);
    const model = instance.resource(path.resourceId);
    if (!model) throw new Lwm2mOperationError(CoapCode.NotFound, `resource ${path.resourceId} does not exist`);
    if (model.operations !== 'E') throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, `/${path.objectId}/${path.instanceId}/${path.resourceId} is not executable`);
    instance.execute(path.resourceId, args);
  }

  /** Create (Core §6.3.4): the instance id from the payload, else the lowest free one. */
  create(objectId: number, values: Lwm2mValue[]): number {
    this.checkAccess(objectId, 'server');
    if (!this.objects.has(objectId)) throw new Lwm2mOperationError(CoapCode.NotFound, `object ${objectId} is not supported`);
    const model = this.model(objectId);
    const ids = new Set(values.map((v) => v.path.instanceId).filter((i): i is number => i !== undefined));
    if (ids.size > 1) throw new Lwm2mOperationError(CoapCode.BadRequest, 'create takes one instance');
    let instanceId = [...ids][0];
    if (instanceId === undefined) for (instanceId = 0; this.instance(objectId, instanceId); instanceId += 1);
    if (this.instance(objectId, instanceId)) throw new Lwm2mOperationError(CoapCode.BadRequest, `/${objectId}/${instanceId} already exists`);
    if (!model.multiple && this.instances(objectId).length > 0) throw new Lwm2mOperationError(CoapCode.BadRequest, `object ${objectId} has a single instance`);
    const relocated = values.map((v) => ({ ...v, path: { ...v.path, objectId, instanceId } }));
    this.addInstance(objectId, instanceId);
    try {
      this.write({ objectId, instanceId }, relocated, { replace: true, caller: 'bootstrap' });
    } catch (err) {
      this.deleteInstance(objectId, instanceId);
      throw err;
    }
    return instanceId;
  }

  /** Discover (Core §6.3.2): the links under a path, with the attributes set on each. */
  discover(path: Lwm2mPath, attributesOf: (p: Lwm2mPath) => LinkEntry['attributes']): LinkEntry[] {
    if (path.objectId === undefined) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, 'discover on the root is for the bootstrap server');
    this.checkAccess(path.objectId, 'server');
    if (!this.objects.has(path.objectId)) throw new Lwm2mOperationError(CoapCode.NotFound, `object ${path.objectId} is not supported`);
    const model = this.model(path.objectId);
    const out: LinkEntry[] = [];
    const link = (p: Lwm2mPath, extra: LinkEntry['attributes'] = {}): void => {
      out.push({ target: pathText(p), attributes: { ...extra, ...attributesOf(p) } });
    };
    if (path.instanceId === undefined) link({ objectId: path.objectId }, model.version !== '1.0' ? { ver: model.version } : {});
    const instances = path.instanceId === undefined ? this.instances(path.objectId) : [this.requireInstance(path.objectId, path.instanceId)];
    for (const instance of instances) {
      if (path.resourceId === undefined) link({ objectId: path.objectId, instanceId: instance.id });
      for (const rid of instance.present()) {
        if (path.resourceId !== undefined && rid !== path.resourceId) continue;
        const value = instance.get(rid);
        const p = { objectId: path.objectId, instanceId: instance.id, resourceId: rid };
        link(p, value instanceof Map ? { dim: value.size } : {});
      }
      if (path.resourceId !== undefined && !instance.present().includes(path.resourceId)) throw new Lwm2mOperationError(CoapCode.NotFound, `resource ${path.resourceId} does not exist`);
    }
    return out;
  }

  /** Bootstrap-Discover (Core §6.1.7.3): every object and instance, `lwm2m` version first. */
  bootstrapDiscover(): LinkEntry[] {
    const out: LinkEntry[] = [{ target: '/', attributes: { lwm2m: '1.1' } }];
    for (const objectId of this.objectIds()) {
      const model = this.model(objectId);
      const instances = this.instances(objectId);
      if (instances.length === 0) out.push({ target: `/${objectId}`, attributes: model.version !== '1.0' ? { ver: model.version } : {} });
      for (const instance of instances) {
        const attributes: LinkEntry['attributes'] = {};
        const ssid = objectId === 1 ? instance.get(0) : objectId === 0 && instance.get(1) !== true ? instance.get(10) : undefined;
        if (typeof ssid === 'number') attributes.ssid = ssid;
        const uri = objectId === 0 ? instance.get(0) : undefined;
        if (typeof uri === 'string') attributes.uri = uri;
        out.push({ target: `/${objectId}/${instance.id}`, attributes });
      }
    }
    return out;
  }

  /** The object and instance links of a Register or Update (Core §6.2.1): no Security object. */
  registrationLinks(): LinkEntry[] {
    const out: LinkEntry[] = [];
    for (const objectId of this.objectIds()) {
      if (objectId === 0) continue;
      const model = this.model(objectId);
      const ver: LinkAttributes = model.version !== '1.0' ? { ver: model.version } : {};
      const instances = this.instances(objectId);
      if (instances.length === 0 || model.version !== '1.0') out.push({ target: `/${objectId}`, attributes: ver });
      for (const instance of instances) out.push({ target: `/${objectId}/${instance.id}`, attributes: {} });
    }
    return out;
  }

  private requireInstance(objectId: number, instanceId: number): ObjectInstance {
    const instance = this.instance(objectId, instanceId);
    if (!instance) throw new Lwm2mOperationError(CoapCode.NotFound, `/${objectId}/${instanceId} does not exist`);
    return instance;
  }

  /** The Security object is for the bootstrap server only (Core §E.1: not accessible by a management server). */
  private checkAccess(objectId: number, caller: Caller): void {
    if (objectId === 0 && caller === 'server') throw new Lwm2mOperationError(CoapCode.Unauthorized, 'the Security object is not accessible to a management server');
  }
}

export function pathText(p: Lwm2mPath): string {
  const ids = [p.objectId, p.instanceId, p.resourceId, p.resourceInstanceId].filter((i): i is number => i !== undefined);
  return ids.length === 0 ? '/' : `/${ids.join('/')}`;
}

/** `a` equals `b` or lies under it. */
export function isUnder(a: Lwm2mPath, b: Lwm2mPath): boolean {
  const ka = [a.objectId, a.instanceId, a.resourceId, a.resourceInstanceId];
  const kb = [b.objectId, b.instanceId, b.resourceId, b.resourceInstanceId];
  for (let i = 0; i < 4; i += 1) {
    if (kb[i] === undefined) return true;
    if (ka[i] !== kb[i]) return false;
  }
  return true;
}
