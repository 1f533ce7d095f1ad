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
