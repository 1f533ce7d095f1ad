/** A telemetry number for a table cell or legend: integers as they are, others to 3 decimals. */
export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 1000) / 1000);
}
