import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { api, type Lwm2mDeviceView, type TelemetryValue } from '../../../api.ts';
import { ErrorMessage } from '../../../components/error-message.tsx';
import { useAsync } from '../../../components/use-async.ts';
import { formatTime } from '../../../format.ts';
import { RESYNC, useLiveEvent, usePolling, useThrottled, type LiveStream } from '../../../live-events.ts';
import { lwm2mApi, type OperationAnswer } from '../../lwm2m/lwm2m-api.ts';
import { settledOutcome } from './held-request.ts';
import { mergeValues, observedPathSet, pathOfTelemetryKey, valuesFromReported, type ShownValue } from './lwm2m-values.ts';
import { ObjectTree } from './object-tree.tsx';
import type { Outcome } from './operation-outcome.tsx';

/** How often a held request is asked after (it goes out at the device's next Update). */
const HELD_POLL_MS = 2_000;

/** Epoch ms (as the registration carries them) for `formatTime`. */
function at(ms: number): string {
  return formatTime(new Date(ms).toISOString());
}

function formatLifetime(sec: number): string {
  if (sec % 86_400 === 0) return `${sec} s (${sec / 86_400} d)`;
  if (sec % 3_600 === 0) return `${sec} s (${sec / 3_600} h)`;
  if (sec >= 60 && sec % 60 === 0) return `${sec} s (${sec / 60} min)`;
  return `${sec} s`;
}

/**
 * The device's LwM2M side (docs/lwm2m.md): its registration and the object tree it announced,
 * with the registry's names, each resource's current value (the reported twin's `lwm2m`
 * section, then answers and notifications as they come) and the operations an operator sends.
 * Renders nothing for a device that never registered over LwM2M.
 */
export function Lwm2mPanel({ deviceId, stream, operator, locked }: { deviceId: string; stream: LiveStream; operator: boolean; locked: boolean }): ReactElement | null {
  const view = useAsync(() => lwm2mApi.device(deviceId), [deviceId]);
  const [values, setValues] = useState<Map<string, ShownValue>>(new Map());
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);

  const loadValues = useCallback(async (): Promise<void> => {
    const twin = await api.getTwin(deviceId);
    const reported = valuesFromReported((twin.reported as Record<string, unknown>)['lwm2m'], Date.now());
    setValues((prev) => {
      const next = new Map(prev);
      for (const [path, v] of reported) next.set(path, v);
      return next;
    });
  }, [deviceId]);
  useEffect(() => {
    void loadValues().catch(() => undefined);
  }, [loadValues]);

  const reloadView = useThrottled(view.reload, 500);
  const reloadValues = useThrottled(() => void loadValues().catch(() => undefined), 500);
  // A Register, an Update that ends a sleep, a lifetime that ran out: presence events mark them.
  useLiveEvent(stream, ['device.connected', 'device.disconnected'], reloadView);
  useLiveEvent(stream, ['twin.reported.changed'], reloadValues);
  // Notifications arrive as telemetry under their path keys (`3303.0.5700`).
  useLiveEvent(stream, ['telemetry.received'], (event) => {
    if (event.type === RESYNC) {
      reloadValues();
      reloadView();
      return;
    }
    const ts = typeof event.data['ts'] === 'number' ? event.data['ts'] : Date.parse(event.at);
    const incoming = (event.data['values'] ?? {}) as Record<string, TelemetryValue>;
    const byPath = Object.entries(incoming).flatMap(([key, value]) => {
      const path = pathOfTelemetryKey(key);
      return path ? [{ path, value }] : [];
    });
    if (byPath.length > 0) setValues((prev) => mergeValues(prev, byPath, ts));
  });
  usePolling(view.reload, stream.status);

  /** Runs one operation and shows its outcome under the row it was started from. */
  const perform = useCallback(
    async (path: string, label: string, work: () => Promise<OperationAnswer | void>): Promise<boolean> => {
      setOutcome({ path, label, busy: true });
      try {
        const answer = await work();
        if (answer && answer.status === 'queued') {
          setOutcome({ path, label, queued: answer.requestId });
          view.reload();
        } else {
          if (answer?.values) setValues((prev) => mergeValues(prev, answer.values ?? [], Date.now()));
          setOutcome({ path, label, ...(answer ? { answer } : {}) });
        }
        return true;
      } catch (error) {
        setOutcome({ path, label, error });
        return false;
      }
    },
    [view.reload],
  );

  // A held request goes out at the device's next Update: follow it until the device answered.
  const queued = outcome?.queued;
  useEffect(() => {
    if (!queued || !outcome) return;
    const { path, label } = outcome;
    const timer = setInterval(() => {
      lwm2mApi.heldRequest(deviceId, queued).then(
        (held) => {
          if (held.state !== 'completed' && held.state !== 'failed') return;
          clearInterval(timer);
          view.reload();
          const settled = settledOutcome(path, label, held);
          if (settled.answer?.status === 'completed' && settled.answer.values) {
            const values = settled.answer.values;
            setValues((prev) => mergeValues(prev, values, Date.now()));
          }
          setOutcome((current) => (current?.queued === queued ? settled : current));
        },
        () => undefined,
      );
    }, HELD_POLL_MS);
    return () => clearInterval(timer);
    // Keyed by the request id: one follower per held request.
  }, [queued, deviceId]);

  const data = view.data;
  // A server without LwM2M, or a device that never registered: nothing to show.
  if (!data) return null;
  if (!data.registered && data.pending.length === 0) return null;

  return (
    <div className="card lwm2m" data-testid="lwm2m-panel" data-registered={String(data.registered)}>
      <h2>LwM2M</h2>
      <Registration view={data} />
      <ErrorMessage error={view.error} testId="lwm2m-load-error" />
      <HeldRequests view={data} />
      {data.observations.length > 0 ? (
        <p className="small" data-testid="lwm2m-observations">
          Observing{' '}
          {data.observations.map((paths, i) => (
            <span key={i}>
              {i > 0 ? ', ' : ''}
              <code>{paths.join(' + ')}</code>
            </span>
          ))}
          <span className="muted"> — notifications arrive as telemetry and update the values below.</span>
        </p>
      ) : null}
      <ObjectTree
        deviceId={deviceId}
        objects={data.objects}
        values={values}
        observed={observedPathSet(data.observations)}
        operator={operator && !locked && data.registered}
        outcome={outcome}
        perform={perform}
        onObservationsChanged={view.reload}
      />
    </div>
  );
}

function Registration({ view }: { view: Lwm2mDeviceView }): ReactElement {
  const r = view.registration;
  if (!r) {
    return (
      <p className="muted" data-testid="lwm2m-not-registered">
        Not registered now. Held requests go out when it registers again.
      </p>
    );
  }
  return (
    <dl className="props lwm2m-registration" data-testid="lwm2m-registration">
      <dt>Endpoint</dt>
      <dd>
        <code data-testid="lwm2m-endpoint">{r.endpoint}</code> <span className="muted small">at /rd/{r.registrationId}</span>
      </dd>
      <dt>LwM2M version</dt>
      <dd data-testid="lwm2m-version">{r.lwm2mVersion}</dd>
      <dt>Binding</dt>
      <dd data-testid="lwm2m-binding">
        {r.binding}{' '}
        {r.queueMode ? (
          <span className="badge" data-testid="lwm2m-queue-mode" title="The device sleeps between updates; requests wait for it to wake">
            queue mode
          </span>
        ) : null}
        {r.sms ? <span className="muted small"> SMS {r.sms}</span> : null}
      </dd>
      <dt>Lifetime</dt>
      <dd data-testid="lwm2m-lifetime">
        {formatLifetime(r.lifetime)} <span className="muted small">expires {at(r.expiresAt)} without an update</span>
      </dd>
      <dt>Registered</dt>
      <dd>{at(r.registeredAt)}</dd>
      <dt>Last update</dt>
      <dd data-testid="lwm2m-updated">{at(r.updatedAt)}</dd>
      <dt>Security</dt>
      <dd data-testid="lwm2m-security" data-secure={String(r.secure)}>
        {r.secure ? (
          <span className="badge ok">DTLS</span>
        ) : (
          <span className="badge status-suspended" title="Registered over plain CoAP: allowed only while the device has no PSK or certificate">
            plain CoAP (no security)
          </span>
        )}{' '}
        <span className="muted small">
          from {r.address}:{r.port}
        </span>
      </dd>
    </dl>
  );
}

function HeldRequests({ view }: { view: Lwm2mDeviceView }): ReactElement | null {
  const held = view.pending.filter((p) => p.state === 'queued' || p.state === 'sent');
  if (held.length === 0) return null;
  return (
    <div className="notice" role="status" data-testid="lwm2m-pending">
      <strong>
        {held.length} request{held.length === 1 ? '' : 's'} queued until the device wakes
      </strong>
      <ul className="plain-list">
        {held.map((p) => (
          <li key={p.id} data-testid="lwm2m-pending-request" data-state={p.state}>
            {p.op} <span className="muted small">({p.state}, since {at(p.createdAt)})</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
