/**
 * First-start provisioning through an enrollment group (docs/provisioning.md): over MQTT
 * (username `$enroll/{group}`, the group's claim token as password, the wanted device id as
 * client id; request on `devices/{id}/enroll`, answer on `devices/{id}/enroll/result`) or over
 * HTTP (`POST /device/v1/provision`). Both answer the same document.
 */
import { connect } from 'mqtt';
import { enrollResultTopic, enrollTopic, enrollUsername } from '@hangar/protocol';
import { describeError } from '../simulator/device-session.js';
import type { StoredCredential } from './credential-store.js';
import { describeRefusal, httpRequest } from './http-client.js';
import { isSigningKey } from './ota/verifier.js';

export class EnrollmentError extends Error {}

export interface EnrollRequest {
  deviceId: string;
  enrollmentGroupId: string;
  /** The group's claim token. */
  secret: string;
  credentialType?: 'token' | 'x509';
  caPem?: string | undefined;
  timeoutMs?: number;
}

interface ProvisionAnswer {
  deviceId?: string;
  enrollmentGroupId?: string;
  credential?: { type?: string; token?: string; certificatePem?: string; privateKeyPem?: string; caPem?: string };
  status?: number;
  code?: string;
  detail?: string;
  /** The tenant's firmware signing keys (OTA), when the server hands them over. */
  firmwareSigningKeys?: unknown;
}

export async function enrollOverMqtt(server: string, req: EnrollRequest): Promise<StoredCredential> {
  const timeoutMs = req.timeoutMs ?? 15_000;
  const client = connect(server, {
    clientId: req.deviceId,
    username: enrollUsername(req.enrollmentGroupId),
    password: req.secret,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...(req.caPem ? { ca: req.caPem } : {}),
  });
  try {
    const answer = await new Promise<ProvisionAnswer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new EnrollmentError(`enrollment over MQTT got no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(new EnrollmentError(`enrollment over MQTT refused: ${describeError(err)}`));
      };
      client.once('error', fail);
      client.once('close', () => fail(new Error('connection closed')));
      client.once('connect', () => {
        client.subscribe(enrollResultTopic(req.deviceId), { qos: 1 }, (err) => {
          if (err) return fail(err);
          client.publish(enrollTopic(req.deviceId), JSON.stringify({ credentialType: req.credentialType ?? 'token' }), { qos: 1 });
        });
      });
      client.on('message', (topic, payload) => {
        if (topic !== enrollResultTopic(req.deviceId)) return;
        clearTimeout(timer);
        try {
          resolve(JSON.parse(payload.toString('utf8')) as ProvisionAnswer);
        } catch {
          reject(new EnrollmentError('the enrollment answer is not JSON'));
        }
      });
    });
    return toStored(answer, req);
  } finally {
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end(true);
  }
}

export async function enrollOverHttp(httpUrl: string, req: EnrollRequest): Promise<StoredCredential> {
  const answer = await httpRequest(`${httpUrl.replace(/\/+$/, '')}/device/v1/provision`, {
    method: 'POST',
    body: { enrollmentGroupId: req.enrollmentGroupId, deviceId: req.deviceId, claimToken: req.secret },
    timeoutMs: req.timeoutMs ?? 15_000,
  }).catch((err: unknown) => {
    throw new EnrollmentError(`enrollment over HTTP failed: ${err instanceof Error ? err.message : String(err)}`);
  });
  if (answer.status !== 201 && answer.status !== 200) throw new EnrollmentError(`enrollment refused: ${describeRefusal(answer)}`);
  return toStored(JSON.parse(answer.body) as ProvisionAnswer, req);
}

function toStored(answer: ProvisionAnswer, req: EnrollRequest): StoredCredential {
  const c = answer.credential;
  if (!c) throw new EnrollmentError(`enrollment refused: ${answer.status ?? ''} ${answer.code ?? ''}: ${answer.detail ?? 'no credential in the answer'}`.replace(/\s+/g, ' '));
  const keys = Array.isArray(answer.firmwareSigningKeys) ? answer.firmwareSigningKeys.filter(isSigningKey) : [];
  const base = { deviceId: answer.deviceId ?? req.deviceId, enrollmentGroupId: req.enrollmentGroupId, enrolledAt: new Date().toISOString(), ...(keys.length > 0 ? { firmwareSigningKeys: keys } : {}) };
  if (c.type === 'token' && c.token) return { ...base, credential: { kind: 'token', token: c.token } };
  if (c.type === 'x509' && c.certificatePem && c.privateKeyPem) return { ...base, credential: { kind: 'x509', certPem: c.certificatePem, keyPem: c.privateKeyPem }, ...(c.caPem ? { caPem: c.caPem } : {}) };
  throw new EnrollmentError(`enrollment answered a ${c.type ?? 'unknown'} credential without its secret`);
}
