import type { ReactElement } from 'react';
import type { CreatedEnrollmentGroup } from '../../api.ts';
import { SecretField } from '../../components/secret-field.tsx';
import { href, segment } from '../../router.ts';

/** The claim token or group key of a just-created group: the API returns it this once only. */
export function EnrollmentSecretPanel({ group, onDismiss }: { group: CreatedEnrollmentGroup; onDismiss(): void }): ReactElement {
  const secretName = group.claimToken ? 'claim token' : group.groupKey ? 'group key' : null;
  return (
    <div className="card token-panel" role="status" data-testid="enrollment-secret-panel" data-enrollment-group-id={group.id}>
      <h2>
        Enrollment group “{group.name}” created{' '}
        <a href={href(`/enrollment-groups/${segment(group.id)}`)} data-testid="created-enrollment-group-link">
          <code>{group.id}</code>
        </a>
      </h2>
      {secretName ? (
        <p className="warning">
          <strong>Copy the {secretName} now — you will not see it again.</strong> Devices need it to enroll; if it is lost, create a new
          group.
        </p>
      ) : (
        <p className="muted">No shared secret: devices enroll with certificates signed by the group’s CA.</p>
      )}
      {group.claimToken ? <SecretField label="Claim token" value={group.claimToken} testId="enrollment-claim-token" /> : null}
      {group.groupKey ? <SecretField label="Group key (base64)" value={group.groupKey} testId="enrollment-group-key" /> : null}
      <button type="button" data-testid="dismiss-enrollment-secret" onClick={onDismiss}>
        {secretName ? 'I have copied it' : 'Done'}
      </button>
    </div>
  );
}
