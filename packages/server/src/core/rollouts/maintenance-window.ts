import type { MaintenanceWindowConfig } from './ports.js';

const DAY_MS = 86_400_000;
const MINUTES_A_DAY = 1440;

/**
 * Whether offers may go out at `now` (UTC). A window that wraps midnight (22:00–02:00) belongs
 * to the day it opened: with `days: [5]` (Friday) it is open from Friday 22:00 to Saturday
 * 02:00. `startMinute = endMinute` is the whole day.
 */
export function windowOpen(w: MaintenanceWindowConfig | null, now: number): boolean {
  if (!w) return true;
  const date = new Date(now);
  const minute = date.getUTCHours() * 60 + date.getUTCMinutes();
  const today = date.getUTCDay();
  const dayOk = (day: number): boolean => w.days === null || w.days.includes(day);
  if (w.startMinute === w.endMinute) return dayOk(today);
  if (w.startMinute < w.endMinute) return minute >= w.startMinute && minute < w.endMinute && dayOk(today);
  if (minute >= w.startMinute) return dayOk(today);
  if (minute < w.endMinute) return dayOk(new Date(now - DAY_MS).getUTCDay());
  return false;
}

/** `HH:MM` of a minute after midnight, for messages and the CLI. */
export function minuteText(m: number): string {
  const mm = ((m % MINUTES_A_DAY) + MINUTES_A_DAY) % MINUTES_A_DAY;
  return `${String(Math.floor(mm / 60)).padStart(2, '0')}:${String(mm % 60).padStart(2, '0')}`;
}
