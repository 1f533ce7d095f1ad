import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type CreatedEnrollmentGroup, type CredentialType, type EnrollmentMechanism, type NewEnrollmentGroup } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime, localInputToIso, parseJsonObject, parseTagLines } from '../../format.ts';
import { href } from '../../router.ts';
import { useSession } from '../../session.ts';
import { MECHANISMS } from './mechanism.ts';
import { useAction } from '../../components/use-action.ts';

export function NewEnrollmentGroupForm({
  onCancel,
  onCreated,
}: {
  onCancel(): void;
  onCreated(group: CreatedEnrollmentGroup): void;
}): ReactElement {
  const { can } = useSession();
  const [name, setName] = useState('');
  const [mechanism, setMechanism] = useState<EnrollmentMechanism>('claim_token');
  const [caId, setCaId] = useState('');
  const [credentialType, setCredentialType] = useState<CredentialType>('x509');
  const [deviceType, setDeviceType] = useState('');
  const [tagText, setTagText] = useState('');
  const [groups, setGroups] = useState<string[]>([]);
  const [desiredText, setDesiredText] = useState('');
  const [deviceLimit, setDeviceLimit] = useState('');
  const [expires, setExpires] = useState('');
  const { busy, error, setError, run } = useAction();

  // Only an active CA can admit devices; the server refuses the others.
  const cas = useAsync(() => api.listCas(), []);
  const activeCas = (cas.data?.items ?? []).filter((ca) => ca.status === 'active');
  const staticGroups = useAsync(() => api.listGroups({ limit: 1000 }), []);
  const groupChoices = (staticGroups.data?.items ?? []).filter((g) => g.kind === 'static');

  const desired = parseJsonObject(desiredText, 'Initial desired state');

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const tags = parseTagLines(tagText);
    if (!tags.ok) {
      setError(new Error(tags.error));
      return;
    }
    if (!desired.ok) {
      setError(new Error(desired.error));
      return;
    }
    const body: NewEnrollmentGroup = { name: name.trim(), mechanism, credentialType };
    if (mechanism === 'ca') body.caId = caId || activeCas[0]?.id;
    if (deviceType.trim()) body.deviceType = deviceType.trim();
    if (Object.keys(tags.tags).length > 0) body.tags = tags.tags;
    if (groups.length > 0) body.groups = groups;
    if (Object.keys(desired.value).length > 0) body.initialDesired = desired.value;
    if (deviceLimit.trim()) body.deviceLimit = Number(deviceLimit);
    if (expires) body.expiresAt = localInputToIso(expires);
    await run(async () => {
      onCreated(await api.createEnrollmentGroup(body));
    });
  };

  const toggleGroup = (id: string, on: boolean): void => setGroups((prev) => (on ? [...prev, id] : prev.filter((g) => g !== id)));

  return (
    <form className="card form" onSubmit={submit} data-testid="new-enrollment-group-form">
      <h2>New enrollment group</h2>
      <label>
        Name
        <input data-testid="new-enrollment-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={128} autoFocus />
      </label>
      <fieldset>
        <legend>Mechanism</legend>
        {MECHANISMS.map((m) => (
          <label key={m.value} className="inline radio-line">
            <input
              type="radio"
              name="mechanism"
              data-testid={`new-enrollment-mechanism-${m.value}`}
              checked={mechanism === m.value}
              onChange={() => setMechanism(m.value)}
            />{' '}
            {m.label} <span className="muted">({m.hint})</span>
          </label>
        ))}
      </fieldset>
      {mechanism === 'ca' ? (
        <label>
          Certificate authority
          {activeCas.length > 0 ? (
            <select data-testid="new-enrollment-ca" value={caId || activeCas[0]?.id} onChange={(e) => setCaId(e.target.value)}>
              {activeCas.map((ca) => (
                <option key={ca.id} value={ca.id}>
                  {ca.subject} ({ca.kind === 'hangar' ? 'tenant CA' : 'external'}, until {formatTime(ca.notAfter)})
                </option>
              ))}
            </select>
          ) : cas.loading ? (
            <span className="muted"> Loading…</span>
          ) : (
            <span className="muted" data-testid="new-enrollment-no-ca">
              {' '}
              — no active CA.{' '}
              {can('admin') ? <a href={href('/cas')}>Register and verify one</a> : 'An admin must register and verify one'} first.
            </span>
          )}
          <ErrorMessage error={cas.error} />
        </label>
      ) : null}
      <div className="row">
        <label className="inline">
          Credential issued{' '}
          <select data-testid="new-enrollment-credential-type" value={credentialType} onChange={(e) => setCredentialType(e.target.value as CredentialType)}>
            <option value="x509">X.509 certificate</option>
            <option value="token">token</option>
            <option value="psk">pre-shared key (DTLS)</option>
          </select>
        </label>
        <label className="inline">
          Device type{' '}
          <input data-testid="new-enrollment-device-type" value={deviceType} onChange={(e) => setDeviceType(e.target.value)} placeholder="generic" />
        </label>
      </div>
      <label>
        Tags for enrolled devices <span className="muted">(one key=value per line)</span>
        <textarea data-testid="new-enrollment-tags" rows={3} value={tagText} onChange={(e) => setTagText(e.target.value)} placeholder={'site=berlin\nline=a'} />
      </label>
      <fieldset>
        <legend>Static groups to join</legend>
        {groupChoices.length === 0 ? (
          <span className="muted">{staticGroups.loading ? 'Loading…' : 'No static groups.'}</span>
        ) : (
          <div className="checklist" data-testid="new-enrollment-groups">
            {groupChoices.map((g) => (
              <label key={g.id} className="inline">
                <input type="checkbox" value={g.id} checked={groups.includes(g.id)} onChange={(e) => toggleGroup(g.id, e.target.checked)} /> {g.id}
              </label>
            ))}
          </div>
        )}
        <ErrorMessage error={staticGroups.error} />
      </fieldset>
      <label>
        Initial desired state <span className="muted">(a JSON object, optional)</span>
        <textarea
          data-testid="new-enrollment-desired"
          className={`code-input${desired.ok ? '' : ' invalid'}`}
          rows={4}
          value={desiredText}
          onChange={(e) => setDesiredText(e.target.value)}
          placeholder={'{ "reportIntervalSeconds": 60 }'}
          spellCheck={false}
        />
      </label>
      {desired.ok ? null : (
        <div className="field-error" data-testid="new-enrollment-desired-error">
          {desired.error}
        </div>
      )}
      <div className="row">
        <label className="inline">
          Device limit{' '}
          <input
            type="number"
            className="narrow"
            data-testid="new-enrollment-limit"
            min={1}
            step={1}
            value={deviceLimit}
            onChange={(e) => setDeviceLimit(e.target.value)}
            placeholder="none"
          />
        </label>
        <label className="inline">
          Expires{' '}
          <input type="datetime-local" data-testid="new-enrollment-expires" value={expires} onChange={(e) => setExpires(e.target.value)} />
          <span className="muted">(optional, local time)</span>
        </label>
      </div>
      <ErrorMessage error={error} testId="new-enrollment-error" />
      <div className="row">
        <button
          type="submit"
          className="primary"
          data-testid="new-enrollment-submit"
          disabled={busy || !desired.ok || (mechanism === 'ca' && activeCas.length === 0)}
        >
          Create enrollment group
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
