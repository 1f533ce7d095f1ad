/**
 * Live domain events from `GET /api/v1/events/stream` (Server-Sent Events; the session cookie
 * authenticates the EventSource). A page opens ONE stream and its panels listen to it: browsers
 * allow only six HTTP/1.1 connections per origin, and every open stream holds one.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { StreamEvent } from './api.ts';

export type LiveStatus = 'connecting' | 'live' | 'down';

/**
 * Delivered to listeners when the server no longer holds the events after the last one we saw
 * (`event: reset`) or a closed stream was opened anew: whatever a panel derived from events may
 * be stale, so it reloads from the REST API.
 */
export const RESYNC = 'stream.resync';

export interface StreamFilter {
  /** Event types or prefixes (`alert.*`); all types when absent. */
  types?: string[];
  /** Only events of this device. */
  device?: string;
}

export interface LiveStream {
  status: LiveStatus;
  subscribe(listener: (event: StreamEvent) => void): () => void;
}

/** How long to wait before opening a stream the browser gave up on (a 401, a restart, a 5xx). */
const REOPEN_MS = 5_000;

function streamUrl(filter: StreamFilter, lastEventId: string | undefined): string {
  const params = new URLSearchParams();
  if (filter.types?.length) params.set('types', filter.types.join(','));
  if (filter.device) params.set('device', filter.device);
  // EventSource sends Last-Event-ID only on its own reconnects; a new one needs the query form.
  if (lastEventId) params.set('lastEventId', lastEventId);
  const qs = params.toString();
  return `/api/v1/events/stream${qs ? `?${qs}` : ''}`;
}

/** Opens the stream while the component is mounted; listeners come and go without reopening it. */
export function useEventStream(filter: StreamFilter): LiveStream {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const listeners = useRef(new Set<(event: StreamEvent) => void>());
  const key = `${(filter.types ?? []).join(',')}\u0000${filter.device ?? ''}`;

  useEffect(() => {
    if (typeof EventSource === 'undefined') {
      setStatus('down');
      return;
    }
    let source: EventSource | undefined;
    let reopenTimer: ReturnType<typeof setTimeout> | undefined;
    let lastEventId: string | undefined;
    let stopped = false;
    const emit = (event: StreamEvent): void => {
      for (const listener of listeners.current) listener(event);
    };
    const resync = (): void => emit({ id: 0, type: RESYNC, tenant: '', at: new Date().toISOString(), data: {} });

    const open = (reopening: boolean): void => {
      setStatus('connecting');
      const es = new EventSource(streamUrl(filter, lastEventId), { withCredentials: true });
      source = es;
      es.onopen = () => {
        setStatus('live');
        // A stream opened anew resumes from lastEventId; the server says `reset` if it cannot.
        if (reopening && !lastEventId) resync();
      };
      es.onmessage = (msg: MessageEvent<string>) => {
        if (msg.lastEventId) lastEventId = msg.lastEventId;
        let event: StreamEvent;
        try {
          event = JSON.parse(msg.data) as StreamEvent;
        } catch {
          return; // not an event of this API: nothing a listener could use
        }
        emit(event);
      };
      es.addEventListener('reset', (msg) => {
        const id = (msg as MessageEvent<string>).lastEventId;
        if (id) lastEventId = id;
        resync();
      });
      es.onerror = () => {
        if (stopped) return;
        if (es.readyState === EventSource.CLOSED) {
          // The browser does not retry after a non-200 answer: we do, a little later.
          setStatus('down');
          es.close();
          reopenTimer = setTimeout(() => open(true), REOPEN_MS);
        } else {
          // The browser reconnects by itself (and sends Last-Event-ID).
          setStatus('connecting');
        }
      };
    };
    open(false);
    return () => {
      stopped = true;
      if (reopenTimer) clearTimeout(reopenTimer);
      source?.close();
    };
    // `key` is the filter's identity; the object itself is a fresh literal each render.
  }, [key]);

  const subscribe = useCallback((listener: (event: StreamEvent) => void) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  return { status, subscribe };
}

/**
 * Calls `handler` for each event of `stream` whose type is in `types` (prefixes with `.*`), and
 * for RESYNC. The newest `handler` is always used, so it may close over fresh state.
 */
export function useLiveEvent(stream: LiveStream, types: string[] | null, handler: (event: StreamEvent) => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  const typeKey = types?.join(',') ?? '*';
  useEffect(() => {
    const patterns = typeKey === '*' ? null : typeKey.split(',');
    const wanted = (type: string): boolean =>
      type === RESYNC || patterns === null || patterns.some((p) => (p.endsWith('.*') ? type.startsWith(p.slice(0, -1)) : type === p));
    return stream.subscribe((event) => {
      if (wanted(event.type)) latest.current(event);
    });
  }, [stream.subscribe, typeKey]);
}

/**
 * Runs `fn` at most once per `ms`, trailing: a burst of events (a thousand devices reconnecting)
 * costs one reload, not a thousand.
 */
export function useThrottled(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const state = useRef<{ timer: ReturnType<typeof setTimeout> | undefined; last: number }>({ timer: undefined, last: 0 });
  useEffect(
    () => () => {
      if (state.current.timer) clearTimeout(state.current.timer);
    },
    [],
  );
  return useCallback(() => {
    const s = state.current;
    if (s.timer) return;
    const wait = Math.max(0, s.last + ms - Date.now());
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.last = Date.now();
      latest.current();
    }, wait);
  }, [ms]);
}

/**
 * Calls `fn` every `liveMs` while the stream is live (a safety net for anything the stream does
 * not carry) and every `downMs` while it is not.
 */
export function usePolling(fn: () => void, status: LiveStatus, { liveMs = 30_000, downMs = 5_000 }: { liveMs?: number; downMs?: number } = {}): void {
  const latest = useRef(fn);
  latest.current = fn;
  const every = status === 'live' ? liveMs : downMs;
  useEffect(() => {
    const timer = setInterval(() => {
      // A hidden tab does not need fresh numbers; it gets them when shown again.
      if (document.visibilityState !== 'hidden') latest.current();
    }, every);
    return () => clearInterval(timer);
  }, [every]);
}

/** "live", "connecting…", "offline — polling" as a small badge. */
export function liveLabel(status: LiveStatus): string {
  return status === 'live' ? 'live' : status === 'connecting' ? 'connecting…' : 'stream down — polling';
}
