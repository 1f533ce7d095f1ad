/** Small display and parsing helpers shared by pages. */

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  // ISO-like, local time, no seconds fraction: sortable and unambiguous in a table.
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatTags(tags: Record<string, string> | null | undefined): string {
  return Object.entries(tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export type ParsedTags = { ok: true; tags: Record<string, string> } | { ok: false; error: string };

/** Parses `k=v` lines (blank lines ignored) as typed in the "New device" form. */
export function parseTagLines(text: string): ParsedTags {
  const tags: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { ok: false, error: `Tags line ${i + 1}: expected key=value, got "${line}"` };
    const key = line.slice(0, eq).trim();
    if (!key) return { ok: false, error: `Tags line ${i + 1}: empty key` };
    tags[key] = line.slice(eq + 1).trim();
  }
  return { ok: true, tags };
}

export type ParsedObject = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/** Parses a JSON textarea that must hold an object; blank means `{}`. */
export function parseJsonObject(text: string, what = 'JSON'): ParsedObject {
  if (!text.trim()) return { ok: true, value: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, error: `${what} must be a JSON object ({…}), not ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}` };
  }
  return { ok: true, value: parsed as Record<string, unknown> };
}

/** `<input type="datetime-local">` value (local time) → ISO 8601 in UTC; '' → null. */
export function localInputToIso(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** ISO 8601 → the local `YYYY-MM-DDTHH:mm` a datetime-local input shows; null → ''. */
export function isoToLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A long hex fingerprint or serial, shortened for a table cell (the full value goes in a title). */
export function shortHex(hex: string | null | undefined, keep = 16): string {
  if (!hex) return '—';
  return hex.length <= keep ? hex : `${hex.slice(0, keep)}…`;
}

/** True when an ISO time lies in the past. */
export function isPast(iso: string | null | undefined): boolean {
  if (!iso) return false;
  const t = Date.parse(iso);
  return !Number.isNaN(t) && t < Date.now();
}

/** A byte count in binary units (`1.5 MiB`), as sizes of firmware images are read. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** A count with thousands separators (`1,234`): fleets run to tens of thousands of devices. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
