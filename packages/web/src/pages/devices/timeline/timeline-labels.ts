/**
 * How a timeline entry reads: an icon per event family and one line per type (docs/logs.md).
 * Icons are plain symbols common fonts carry (DejaVu): no emoji, which many Linux boxes lack.
 */

export interface TimelineFamily {
  /** The `types` filter value: a prefix such as `twin.*`, or an exact type. */
  filter: string;
  label: string;
  icon: string;
}

export const TIMELINE_FAMILIES: TimelineFamily[] = [
  { filter: 'device.*', label: 'Connectivity and lifecycle', icon: '◉' },
  { filter: 'twin.*', label: 'Twin', icon: '⇄' },
  { filter: 'command.*', label: 'Commands', icon: '▶' },
  { filter: 'credential.*', label: 'Credentials', icon: '⚷' },
  { filter: 'alert.*', label: 'Alerts', icon: '⚠' },
  { filter: 'ota.*', label: 'Firmware updates', icon: '⬆' },
  { filter: 'log.error', label: 'Error logs', icon: '✖' },
];

export function familyOf(type: string): TimelineFamily | undefined {
  return TIMELINE_FAMILIES.find((f) => (f.filter.endsWith('.*') ? type.startsWith(f.filter.slice(0, -1)) : type === f.filter));
}

const CREDENTIAL_LABEL: Record<string, string> = { x509: 'Certificate', token: 'Token', psk: 'Pre-shared key' };

function str(data: Record<string, unknown>, key: string): string {
  const v = data[key];
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

/** A sentence for one entry; unknown types (a family added later) fall back to the type. */
export function describeEntry(type: string, data: Record<string, unknown>): string {
  switch (type) {
    case 'device.connected':
      return `Connected over ${str(data, 'protocol') || 'a transport'}`;
    case 'device.disconnected':
      return `Disconnected${data['reason'] ? ` (${str(data, 'reason')})` : ''}`;
    case 'device.created':
      return 'Device created';
    case 'device.enrolled':
      return 'Enrolled';
    case 'device.suspended':
      return 'Suspended';
    case 'device.reactivated':
      return 'Reactivated';
    case 'device.decommissioned':
      return 'Decommissioned';
    case 'device.recommissioned':
      return 'Recommissioned';
    case 'device.updated':
      return 'Device updated';
    case 'twin.desired.changed':
      return `Desired state changed ($version ${str(data, 'version')})`;
    case 'twin.reported.changed':
      return `Reported state changed ($version ${str(data, 'version')})`;
    case 'command.queued':
      return `Command ${str(data, 'name')} queued`;
    case 'command.sent':
      return `Command ${str(data, 'name')} sent`;
    case 'command.completed':
      return `Command ${str(data, 'name')} ${str(data, 'state').replace('_', ' ')}`;
    case 'credential.issued':
      return `${CREDENTIAL_LABEL[str(data, 'credentialType')] ?? 'Token'} credential issued`;
    case 'credential.revoked':
      return 'Credential revoked';
    case 'alert.raised':
      return `Alert raised: ${str(data, 'ruleName') || str(data, 'message')} (${str(data, 'severity')})`;
    case 'alert.acknowledged':
      return `Alert acknowledged by ${str(data, 'by')}`;
    case 'alert.cleared':
      return `Alert cleared by ${str(data, 'by')}`;
    case 'log.error': {
      const count = Number(data['count'] ?? 1);
      return `${count} error log record${count === 1 ? '' : 's'}: ${str(data, 'msg')}`;
    }
    case 'ota.update': {
      // A device's step in a rollout (the server records each state once per rollout).
      const reason = str(data, 'reason');
      return `Firmware update ${str(data, 'state').replace('_', ' ')}${reason ? ` (${reason})` : ''}`;
    }
    default:
      return type;
  }
}

/** Entries worth drawing attention to. */
export function isBad(type: string, data: Record<string, unknown>): boolean {
  if (type === 'log.error' || type === 'alert.raised' || type === 'credential.revoked') return true;
  if (type === 'ota.update') return ['failed', 'rolled_back', 'timed_out'].includes(str(data, 'state'));
  return type === 'command.completed' && ['failed', 'timed_out', 'expired'].includes(str(data, 'state'));
}
