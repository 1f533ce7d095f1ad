/** Epoch milliseconds as the wire writes times: ISO 8601 UTC. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** `isoTime`, keeping null (a time that has not happened: never seen, not revoked). */
export function isoTimeOrNull(ms: number | null): string | null {
  return ms === null ? null : isoTime(ms);
}
