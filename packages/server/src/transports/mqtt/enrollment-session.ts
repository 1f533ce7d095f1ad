import { enrollResultTopic } from '@hangar/protocol';
import { HangarError } from '../../errors.js';
import type { ConnectionState } from './connection-state.js';
import { transmit } from './downlink-queue.js';
import { enrollErrorBody, enrollSuccessBody, parseEnrollRequest } from './enrollment-messages.js';

/** An enrollment session's request (`devices/{id}/enroll`). Never rejects: every outcome, good or bad, is published to `enroll/result`. */
export async function enroll(conn: ConnectionState, payload: Buffer): Promise<void> {
  const e = conn.enrollment!;
  let result: Buffer;
  if (e.busy) {
    result = enrollErrorBody(new HangarError('CONFLICT', 'an enrollment request of this session is already being processed'));
  } else {
    e.busy = true;
    try {
      const request = parseEnrollRequest(payload);
      const provisioned = await conn.gw.enrollment!.provision(
        { enrollmentGroupId: e.groupId, deviceId: conn.deviceId, claimToken: e.claimToken, csr: request.csr, credentialType: request.credentialType },
        conn.remoteAddress ?? 'unknown',
      );
      conn.gw.count('enrollments');
      result = enrollSuccessBody(provisioned);
    } catch (err) {
      conn.gw.count('enrollments_refused');
      conn.gw.logger.debug({ err: err instanceof Error ? err.message : err, deviceId: conn.deviceId }, 'mqtt enrollment refused');
      result = enrollErrorBody(err);
    } finally {
      e.busy = false;
    }
  }
  e.result = result;
  deliverEnrollResult(conn);
}

/** Sends a ready result once the device has subscribed to it. */
export function deliverEnrollResult(conn: ConnectionState): void {
  const e = conn.enrollment;
  if (!e?.result || conn.state !== 'open') return;
  const topic = enrollResultTopic(conn.deviceId);
  const qos = conn.session!.grantedQos(topic);
  if (qos === undefined) return;
  const payload = e.result;
  e.result = undefined;
  transmit(conn, { topic, payload, qos, expiresAt: null, contentType: 'application/json' }, undefined);
}
