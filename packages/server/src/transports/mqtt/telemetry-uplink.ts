import type { TelemetryFormat } from '../../core/telemetry/telemetry-ingest.js';
import { HangarError } from '../../errors.js';
import { beginUplink, DROPPED, settleUplink } from './ack-queue.js';
import { PAUSE_RATE, type AckSlot, type ConnectionState, type HeldTelemetry } from './connection-state.js';

/** Telemetry to the core; `messageId` 0 for QoS 0 (nothing to acknowledge). */
export function ingestTelemetry(conn: ConnectionState, messageId: number, payload: Buffer, format: TelemetryFormat): void {
  const slot = beginUplink(conn, messageId);
  // Behind a message waiting for the rate limit: readings are stored in the order they came.
  if (conn.held) conn.held.push({ slot, payload, format, limitedAt: 0 });
  else submitTelemetry(conn, slot, payload, format, 0);
}

function submitTelemetry(conn: ConnectionState, slot: AckSlot | undefined, payload: Buffer, format: TelemetryFormat, limitedAt: number): void {
  const done = (err: unknown): void => {
    if (err !== undefined && holdForRate(conn, slot, payload, format, limitedAt, err)) return;
    settleUplink(conn, slot, err);
  };
  const telemetry = conn.gw.telemetry;
  if (telemetry.submit) telemetry.submit(conn.identity!, payload, format, done);
  else telemetry.ingest(conn.identity!, payload, format).then(() => done(undefined), (err: unknown) => done(err ?? new Error('telemetry ingest failed')));
}

/**
 * A rate-limit refusal is backpressure, not a verdict: the socket is not read until the
 * device's bucket has refilled, then the same message goes again. Refusing it would close a
 * 3.1.1 connection, and a device replaying a backlog after an outage would reconnect and be
 * closed again and again (presence written and events sent each time). Its PUBACK keeps its
 * place and still leaves only once the readings are durable. Only a message that cannot get
 * through within `rateLimitMaxWaitMs` of its first refusal is refused (returns false).
 */
function holdForRate(conn: ConnectionState, slot: AckSlot | undefined, payload: Buffer, format: TelemetryFormat, limitedAt: number, err: unknown): boolean {
  if (!(err instanceof HangarError) || err.code !== 'RATE_LIMITED' || conn.state !== 'open') return false;
  const retryAfterMs = err.extra.retryAfterMs;
  if (typeof retryAfterMs !== 'number' || !(retryAfterMs >= 0)) return false;
  const now = conn.gw.now();
  const since = limitedAt === 0 ? now : limitedAt;
  if (now + retryAfterMs - since > conn.gw.limits.rateLimitMaxWaitMs) return false;
  conn.gw.count('telemetry_throttled');
  const entry: HeldTelemetry = { slot, payload, format, limitedAt: since };
  if (conn.held) {
    conn.held.push(entry);
    return true;
  }
  conn.held = [entry];
  conn.pause(PAUSE_RATE);
  conn.retryTimer = setTimeout(retryHeld, Math.max(1, retryAfterMs), conn);
  conn.retryTimer.unref();
  return true;
}

/** The rate limit's wait is over: held telemetry goes again, in order, until the core refuses one again. */
function retryHeld(conn: ConnectionState): void {
  conn.retryTimer = undefined;
  const held = conn.held;
  conn.held = undefined;
  if (!held || conn.state !== 'open') return;
  for (let i = 0; i < held.length; i += 1) {
    // A refusal of another kind may have ended a 3.1.1 connection.
    if (conn.isClosed()) return;
    // Set again by submitTelemetry when the core refused at once (TypeScript cannot see that).
    const again = conn.held as HeldTelemetry[] | undefined;
    if (again) {
      // The rest wait behind it, without a refusal each.
      for (let j = i; j < held.length; j += 1) again.push(held[j]!);
      return;
    }
    const h = held[i]!;
    submitTelemetry(conn, h.slot, h.payload, h.format, h.limitedAt);
  }
  if ((conn.held as HeldTelemetry[] | undefined) === undefined) conn.resume(PAUSE_RATE);
}

/** The connection ends: telemetry held for the rate limit was not stored, so it gets no PUBACK. */
export function dropHeldTelemetry(conn: ConnectionState): void {
  for (const h of conn.held ?? []) if (h.slot) h.slot.code = DROPPED;
  conn.held = undefined;
  if (conn.retryTimer) clearTimeout(conn.retryTimer);
  conn.retryTimer = undefined;
}
