import type { ReactElement } from 'react';
import type { Rollout } from '../../api.ts';
import { formatCount } from '../../format.ts';
import { failureCount, inFlightCount, RolloutBar } from './rollout-progress.tsx';
import { describeWaves } from './rollout-settings.tsx';

/** One row per wave: its size, state, a bar and the counts that matter while it runs. */
export function RolloutWaves({ rollout }: { rollout: Rollout }): ReactElement {
  return (
    <div className="card" data-testid="rollout-waves">
      <h2>
        Waves <span className="muted small">{describeWaves(rollout.waves)}</span>
      </h2>
      <table className="table compact">
        <thead>
          <tr>
            <th>Wave</th>
            <th>State</th>
            <th className="num">Devices</th>
            <th>Progress</th>
            <th className="num">Succeeded</th>
            <th className="num">In progress</th>
            <th className="num">Verifying</th>
            <th className="num">Failed</th>
          </tr>
        </thead>
        <tbody>
          {rollout.waveStates.map((w) => (
            <tr key={w.index} data-testid="rollout-wave" data-wave={w.index} data-state={w.state} className={w.index === rollout.currentWave ? 'current' : ''}>
              <td>
                {w.index + 1}
                {w.index === rollout.currentWave && rollout.state !== 'completed' ? <span className="muted small"> (current)</span> : null}
              </td>
              <td>
                <span className={`badge ${w.state === 'done' ? 'ok' : w.state === 'running' ? 'cmd-sent' : 'off'}`}>{w.state}</span>
              </td>
              <td className="num">{formatCount(w.size)}</td>
              <td className="wave-bar">
                <RolloutBar counts={{ ...w.counts, targeted: Math.max(w.size, w.counts.targeted) }} testId="rollout-wave-bar" />
              </td>
              <td className="num" data-testid="wave-succeeded">
                {formatCount(w.counts.succeeded)}
              </td>
              <td className="num">{formatCount(inFlightCount(w.counts) - w.counts.verifying)}</td>
              <td className="num">{formatCount(w.counts.verifying)}</td>
              <td className="num" data-testid="wave-failed">
                {formatCount(failureCount(w.counts))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
