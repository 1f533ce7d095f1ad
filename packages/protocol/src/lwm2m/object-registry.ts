/**
 * What Hangar knows about LwM2M objects: the built-in OMA and IPSO models plus what an operator
 * uploads as DDF. The codecs ask it for resource types (TLV carries none; SenML's are coarser).
 */
import { BUILTIN_OBJECTS } from './builtin-objects.js';
import type { ObjectModel, ResourceModel } from './object-model.js';

export class ObjectRegistry {
  /** objectId → models by version, the preferred one (the last added) first. */
  private readonly objects = new Map<number, ObjectModel[]>();
  private readonly resourceIndex = new Map<number, Map<number, ResourceModel>>();

  constructor(models: Iterable<ObjectModel> = []) {
    for (const model of models) this.add(model);
  }

  /**
   * The model of that object version when the registry has it; otherwise (or with no version)
   * the preferred model of the object. OMA object versions only add resources, so a newer model
   * reads an older device's values.
   */
  get(objectId: number, version?: string): ObjectModel | undefined {
    const models = this.objects.get(objectId);
    if (!models) return undefined;
    return (version !== undefined ? models.find((m) => m.version === version) : undefined) ?? models[0];
  }

  resource(objectId: number, resourceId: number): ResourceModel | undefined {
    return this.resourceIndex.get(objectId)?.get(resourceId);
  }

  /** Adds a model, replacing one of the same id and version; it becomes the object's preferred model. */
  add(model: ObjectModel): void {
    const others = (this.objects.get(model.id) ?? []).filter((m) => m.version !== model.version);
    this.objects.set(model.id, [model, ...others]);
    this.resourceIndex.set(model.id, new Map(model.resources.map((r) => [r.id, r])));
  }

  /** Every model, by object id then version. */
  list(): ObjectModel[] {
    return [...this.objects.values()].flat().sort((a, b) => a.id - b.id || a.version.localeCompare(b.version, 'en', { numeric: true }));
  }
}

/** A fresh registry with OMA objects 0–7 and the common IPSO objects (a copy each time: callers may add to it). */
export function builtinObjectRegistry(): ObjectRegistry {
  return new ObjectRegistry(BUILTIN_OBJECTS);
}
