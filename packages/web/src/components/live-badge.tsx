import type { ReactElement } from 'react';
import { liveLabel, type LiveStatus } from '../live-events.ts';

/** Whether the page is following the event stream or falling back to polling. */
export function LiveBadge({ status }: { status: LiveStatus }): ReactElement {
  return (
    <span className={`badge live-${status}`} data-testid="live-status" data-status={status} title="Updates from the server's event stream">
      {liveLabel(status)}
    </span>
  );
}
