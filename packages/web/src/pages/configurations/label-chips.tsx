import type { ReactElement } from 'react';

export function LabelChips({ labels }: { labels: Record<string, string> }): ReactElement {
  const entries = Object.entries(labels);
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <span className="chips">
      {entries.map(([k, v]) => (
        <span className="chip" key={k}>
          {k}={v}
        </span>
      ))}
    </span>
  );
}
