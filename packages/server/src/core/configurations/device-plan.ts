/**
 * What the configurations owe one device, as a pure function: which configuration wins each
 * property, the merge patches that bring desired there, and the per-(configuration, device)
 * records to keep. The reconciler feeds it the stored state and carries the plan out.
 */
import { applyMergePatch, isJsonObject, type JsonObject } from '../twin/merge-patch.js';
import type { Leaf } from './configuration.js';

/** A configuration as the planner sees it: already in precedence order (byPrecedence). */
export interface PlannedConfiguration {
  id: string;
  leaves: readonly Leaf[];
}

/** What a configuration wrote to one device and still answers for. */
export interface AppliedRecord {
  configurationId: string;
  written: readonly Leaf[];
}

export interface DevicePlanInput {
  /** The configurations whose target selects the device, highest precedence first. */
  targeting: readonly PlannedConfiguration[];
  /** The device's records, of targeting and of no longer targeting (or deleted) configurations. */
  records: readonly AppliedRecord[];
  /** The device's desired properties now; undefined when not read (see DevicePlan.needsDesired). */
  desired: JsonObject | undefined;
}

export interface DevicePlan {
  /** True when the plan depends on desired (something to write or remove) and it was not given. */
  needsDesired: boolean;
  /** One merge patch per configuration that writes (sets or removes), in precedence order. */
  patches: Array<{ configurationId: string; patch: JsonObject }>;
  /** The record of each targeting configuration after the patches. */
  keep: Array<{ configurationId: string; written: Leaf[]; conflicting: boolean }>;
  /** Configurations that no longer target the device: their records go. */
  drop: string[];
}

export function pathKey(path: readonly string[]): string {
  return JSON.stringify(path);
}

/** One path is the other or lies inside it: both cannot be set independently. */
export function overlaps(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The value at `path` in `doc`; undefined when absent. */
export function valueAt(doc: JsonObject, path: readonly string[]): unknown {
  let node: unknown = doc;
  for (const key of path) {
    if (!isJsonObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function setAt(patch: JsonObject, path: readonly string[], value: unknown): void {
  let node = patch;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (isJsonObject(next)) node = next;
    else {
      const fresh: JsonObject = {};
      node[key] = fresh;
      node = fresh;
    }
  }
  node[path[path.length - 1]!] = value;
}

/**
 * Ownership: configurations claim their properties in precedence order; a property that is or
 * lies inside (or contains) one a configuration before it claimed is lost, and that
 * configuration is conflicting on this device.
 *
 * Writes: a configuration writes a property when it starts owning it (a new target, a won
 * conflict, a loser's removal), never again while it keeps it, so an operator's later change
 * of that property stands until ownership changes. A property whose owner is gone (not
 * targeting, lost, deleted) and that nobody else owns is removed from desired, but only if it
 * still holds the value written: an operator's change since is left alone.
 */
export function planDevice(input: DevicePlanInput): DevicePlan {
  const claimed: Array<{ path: readonly string[]; configurationId: string }> = [];
  const recordOf = new Map(input.records.map((r) => [r.configurationId, r]));
  const sets = new Map<string, Leaf[]>();
  const keep: DevicePlan['keep'] = [];
  for (const c of input.targeting) {
    const won: Leaf[] = [];
    let conflicting = false;
    for (const leaf of c.leaves) {
      if (claimed.some((o) => o.configurationId !== c.id && overlaps(o.path, leaf.path))) {
        conflicting = true;
        continue;
      }
      claimed.push({ path: leaf.path, configurationId: c.id });
      won.push(leaf);
    }
    const before = new Map((recordOf.get(c.id)?.written ?? []).map((l) => [pathKey(l.path), l.value]));
    const fresh = won.filter((l) => !before.has(pathKey(l.path)) || !deepEqual(before.get(pathKey(l.path)), l.value));
    if (fresh.length > 0) sets.set(c.id, fresh);
    keep.push({ configurationId: c.id, written: won, conflicting });
  }

  const targetingIds = new Set(input.targeting.map((c) => c.id));
  const owned = new Map(keep.map((k) => [k.configurationId, new Set(k.written.map((l) => pathKey(l.path)))]));
  const removals = new Map<string, Leaf[]>();
  for (const r of input.records) {
    const stillOwned = owned.get(r.configurationId);
    const released = r.written.filter((l) => !stillOwned?.has(pathKey(l.path)));
    // A property someone now owns is that owner's to write; removing it too would race the set.
    const orphaned = released.filter((l) => !claimed.some((o) => overlaps(o.path, l.path)));
    if (orphaned.length > 0) removals.set(r.configurationId, orphaned);
  }
  const drop = input.records.map((r) => r.configurationId).filter((id) => !targetingIds.has(id));

  if (sets.size === 0 && removals.size === 0) return { needsDesired: false, patches: [], keep, drop };
  const desired = input.desired;
  if (desired === undefined) return { needsDesired: true, patches: [], keep, drop };

  const order = [...input.targeting.map((c) => c.id), ...[...removals.keys()].filter((id) => !targetingIds.has(id))];
  const patches: DevicePlan['patches'] = [];
  let current = desired;
  for (const id of order) {
    const patch: JsonObject = {};
    const removed: Leaf[] = [];
    for (const l of removals.get(id) ?? []) {
      if (!deepEqual(valueAt(current, l.path), l.value)) continue;
      setAt(patch, l.path, null);
      removed.push(l);
    }
    for (const l of sets.get(id) ?? []) {
      // Already so (an operator or an earlier run set it): record it as written, write nothing.
      if (deepEqual(valueAt(current, l.path), l.value)) continue;
      setAt(patch, l.path, l.value);
    }
    if (Object.keys(patch).length === 0) continue;
    pruneEmptied(patch, current, removed);
    patches.push({ configurationId: id, patch });
    current = applyMergePatch(current, patch);
  }
  return { needsDesired: false, patches, keep, drop };
}

/**
 * A removal that leaves an object with no members removes the object too (it was only there to
 * hold what the configuration set), up to the first ancestor that still holds something.
 */
function pruneEmptied(patch: JsonObject, current: JsonObject, removed: readonly Leaf[]): void {
  for (const l of removed) {
    for (let depth = l.path.length - 1; depth >= 1; depth--) {
      const parent = l.path.slice(0, depth);
      const after = valueAt(applyMergePatch(current, patch), parent);
      if (!isJsonObject(after) || Object.keys(after).length > 0) break;
      setAt(patch, parent, null);
    }
  }
}

/** The device's reported twin holds every property of the content with the content's value. */
export function isApplied(leaves: readonly Leaf[], reported: JsonObject | undefined): boolean {
  if (reported === undefined) return false;
  return leaves.every((l) => deepEqual(valueAt(reported, l.path), l.value));
}
