import { OTA_DEVICE_STATES, OTA_FAILURE_REASONS, type OtaStatusReport } from '@hangar/protocol';
import { HangarError } from '../../errors.js';

const ERROR_MAX = 2000;
const VERSION_MAX = 128;
const ID_MAX = 256;

function bad(path: string, message: string): never {
  throw new HangarError('VALIDATION_FAILED', `OTA status report: ${path} ${message}`, { errors: [{ path, message }] });
}

/**
 * A device's status report (`devices/{id}/ota/status`, DESIGN §5) read and checked: the parsed
 * JSON value, or its bytes / text as a transport received them. Unknown members are ignored
 * (a newer agent may say more); a known member of the wrong type or out of range is refused.
 */
export function readStatusReport(raw: unknown): OtaStatusReport {
  let value = raw;
  if (typeof raw === 'string' || raw instanceof Uint8Array) {
    const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      throw new HangarError('INVALID_JSON', 'OTA status report: the body is not JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('(body)', 'must be a JSON object');
  const v = value as Record<string, unknown>;
  if (typeof v.deploymentId !== 'string' || v.deploymentId === '' || v.deploymentId.length > ID_MAX) bad('deploymentId', 'must be the deployment id of the offer');
  if (typeof v.state !== 'string' || !(OTA_DEVICE_STATES as readonly string[]).includes(v.state)) bad('state', `must be one of ${OTA_DEVICE_STATES.join(', ')}`);
  const report: OtaStatusReport = { deploymentId: v.deploymentId, state: v.state as OtaStatusReport['state'] };
  if (v.progress !== undefined && v.progress !== null) {
    if (typeof v.progress !== 'number' || !Number.isFinite(v.progress) || v.progress < 0 || v.progress > 1) bad('progress', 'must be a number from 0 to 1');
    report.progress = v.progress;
  }
  if (v.reason !== undefined && v.reason !== null) {
    if (typeof v.reason !== 'string' || !(OTA_FAILURE_REASONS as readonly string[]).includes(v.reason)) bad('reason', `must be one of ${OTA_FAILURE_REASONS.join(', ')}`);
    report.reason = v.reason as OtaStatusReport['reason'];
  }
  if (v.error !== undefined && v.error !== null) {
    if (typeof v.error !== 'string') bad('error', 'must be a string');
    report.error = v.error.slice(0, ERROR_MAX);
  }
  if (v.version !== undefined && v.version !== null) {
    if (typeof v.version !== 'string' || v.version === '' || v.version.length > VERSION_MAX) bad('version', `must be a version string of at most ${VERSION_MAX} characters`);
    report.version = v.version;
  }
  if (v.artifact !== undefined && v.artifact !== null) {
    if (v.artifact !== 'delta' && v.artifact !== 'full') bad('artifact', 'must be delta or full');
    report.artifact = v.artifact;
  }
  if (report.state !== 'failed' && report.state !== 'rolled_back' && report.reason !== undefined) bad('reason', `belongs to failed and rolled_back reports, not ${report.state}`);
  return report;
}
