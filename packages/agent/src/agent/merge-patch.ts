/** RFC 7396 helpers for the reported patches the agent accumulates while it cannot send them. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One patch with the effect of `first` then `second` (a `null` — a deletion — is kept as such). */
export function composePatches(first: Record<string, unknown>, second: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...first };
  for (const [k, v] of Object.entries(second)) {
    const prev = out[k];
    out[k] = isPlainObject(v) && isPlainObject(prev) ? composePatches(prev, v) : v;
  }
  return out;
}
