import { useEventStream, useLiveEvent, usePolling, useThrottled, type LiveStream } from '../../live-events.ts';

/**
 * Metrics move when the reconciler has applied a configuration and devices report back, which
 * the stream announces as twin and device events (there is no configuration event): reload a
 * moment after them, and poll as well for what no event announces (the 60 s sweep).
 */
const STREAM_TYPES = ['twin.*', 'device.*'];

export function useConfigurationRefresh(reload: () => void): LiveStream {
  const stream = useEventStream({ types: STREAM_TYPES });
  const reloadSoon = useThrottled(reload, 1_000);
  useLiveEvent(stream, STREAM_TYPES, reloadSoon);
  usePolling(reload, stream.status, { liveMs: 10_000, downMs: 5_000 });
  return stream;
}
