import type { ReactElement } from 'react';
import type { AlertSeverity, AlertState } from '../api.ts';

/** Most severe first: the order of every severity list and filter. */
export const SEVERITIES: AlertSeverity[] = ['critical', 'major', 'minor', 'warning', 'info'];
export const ALERT_STATES: AlertState[] = ['raised', 'acknowledged', 'cleared'];

export function SeverityBadge({ severity }: { severity: AlertSeverity }): ReactElement {
  return <span className={`badge severity-${severity}`}>{severity}</span>;
}

export function AlertStateBadge({ state }: { state: AlertState }): ReactElement {
  return <span className={`badge alert-${state}`}>{state}</span>;
}
