import type { ReactElement } from 'react';
import { api, type Rollout } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatCount, formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';
import { describeDuration } from './rollout-settings.tsx';

const SHOWN = 10;

/**
 * The health gate at work: what it watches, how many devices are inside their window now (and
 * when the first windows end), and how many failed it.
 */
export function HealthGatePanel({ rollout, refresh, healthFailures, ruleName }: { rollout: Rollout; refresh: number; healthFailures: number | undefined; ruleName(id: string): string }): ReactElement {
  const gate = rollout.healthGate;
  const verifying = useAsync(
    () => (gate.windowSec > 0 && rollout.counts.verifying > 0 ? api.listRolloutDevices(rollout.id, { state: 'verifying', limit: SHOWN }) : Promise.resolve(null)),
    [rollout.id, refresh, rollout.counts.verifying],
  );
  if (gate.windowSec === 0) {
    return (
      <div className="card" data-testid="rollout-health" data-gate="off">
        <h2>Health gate</h2>
        <p className="muted">Off: a device counts as succeeded as soon as it reports the new version installed.</p>
      </div>
    );
  }
  return (
    <div className="card" data-testid="rollout-health" data-gate="on">
      <h2>Health gate</h2>
      <p>
        For <strong>{describeDuration(gate.windowSec)}</strong> after installing, a device must stay connected
        {gate.maxDisconnects > 0 ? ` (at most ${gate.maxDisconnects} disconnect${gate.maxDisconnects === 1 ? '' : 's'})` : ''}, report the new version
        {gate.alertRuleIds.length > 0 ? (
          <>
            {' '}
            and raise none of {gate.alertRuleIds.length} alert rule{gate.alertRuleIds.length === 1 ? '' : 's'} (
            {gate.alertRuleIds.map((id, i) => (
              <span key={id}>
                {i > 0 ? ', ' : ''}
                <strong>{ruleName(id)}</strong>
              </span>
            ))}
            )
          </>
        ) : null}
        .
      </p>
      <div className="job-counts">
        <span>
          verifying now <b data-testid="rollout-health-verifying">{formatCount(rollout.counts.verifying)}</b>
        </span>
        <span>
          passed <b>{formatCount(rollout.counts.succeeded)}</b>
        </span>
        {healthFailures !== undefined ? (
          <span>
            failed the gate <b data-testid="rollout-health-failed">{formatCount(healthFailures)}</b>
          </span>
        ) : null}
      </div>
      <ErrorMessage error={verifying.error} />
      {verifying.data && verifying.data.items.length > 0 ? (
        <table className="table compact" data-testid="rollout-health-devices">
          <thead>
            <tr>
              <th>Device</th>
              <th>Window ends</th>
            </tr>
          </thead>
          <tbody>
            {verifying.data.items.map((d) => (
              <tr key={d.deviceId}>
                <td>
                  <a href={href(`/devices/${segment(d.deviceId)}`)}>{d.deviceId}</a>
                </td>
                <td>{formatTime(d.healthUntil)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {verifying.data && rollout.counts.verifying > verifying.data.items.length ? <p className="muted small">and {formatCount(rollout.counts.verifying - verifying.data.items.length)} more.</p> : null}
    </div>
  );
}
