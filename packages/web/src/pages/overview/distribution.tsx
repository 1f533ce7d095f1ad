import type { ReactElement } from 'react';

export interface DistributionRow {
  label: string;
  count: number;
  /** The devices behind this row (a fleet query on the devices page). */
  href?: string;
  /** A remainder row ("other versions"), not a value of its own. */
  muted?: boolean;
}

/** Counts as a table with a share bar per row, largest first as given. */
export function Distribution({
  title,
  rows,
  total,
  testId,
  empty = 'Nothing to show.',
}: {
  title: string;
  rows: DistributionRow[];
  total: number;
  testId: string;
  empty?: string;
}): ReactElement {
  return (
    <div className="card" data-testid={testId}>
      <h2>{title}</h2>
      {rows.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <table className="table compact distribution">
          <tbody>
            {rows.map((row) => {
              const share = total > 0 ? (row.count / total) * 100 : 0;
              return (
                <tr key={row.label} data-testid={`${testId}-row`} data-label={row.label} className={row.muted ? 'muted' : ''}>
                  <td className="dist-label">{row.href ? <a href={row.href}>{row.label}</a> : row.label}</td>
                  <td className="dist-bar" aria-hidden="true">
                    <span style={{ width: `${share.toFixed(1)}%` }} />
                  </td>
                  <td className="num" data-testid={`${testId}-count`}>
                    {row.count.toLocaleString('en-US')}
                  </td>
                  <td className="num muted">{share < 1 && share > 0 ? '<1' : Math.round(share)}%</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
