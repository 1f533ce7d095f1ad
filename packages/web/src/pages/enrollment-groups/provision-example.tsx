import type { ReactElement } from 'react';
import type { EnrollmentGroup } from '../../api.ts';

/**
 * "How a device enrolls": the `POST /device/v1/provision` body for this group's mechanism and,
 * for the proof-based ones, the shell that computes the proof (the payload is fixed by the
 * server: "hangar-provision\n{groupId}\n{deviceId}\n{timestamp ms}\n{nonce}").
 */
export function ProvisionExample({ group }: { group: EnrollmentGroup }): ReactElement {
  const url = `${window.location.origin}/device/v1/provision`;
  const base = { enrollmentGroupId: group.id, deviceId: '<device id>' };
  const proof = { timestamp: '<ms since epoch>', nonce: '<16–128 of A-Z a-z 0-9 _ ->', signature: '<base64 signature>' };
  let body: Record<string, unknown>;
  let explanation: ReactElement;
  let shell: string | null = null;
  switch (group.mechanism) {
    case 'claim_token':
      body = { ...base, claimToken: '<the claim token shown when the group was created>' };
      explanation = <p>The device presents the group’s claim token. Anyone holding it can enroll, so keep it on the production line.</p>;
      break;
    case 'symmetric_key':
      body = { ...base, proof };
      explanation = (
        <p>
          Each device holds its own key, <code>deviceKey = HMAC-SHA256(base64decode(groupKey), deviceId)</code>, burnt in at the factory; the
          group key itself never leaves the factory. It signs the payload with <code>HMAC-SHA256(deviceKey, payload)</code>.
        </p>
      );
      shell = [
        `GROUP_ID=${group.id}; DEVICE_ID=sensor-0001; GROUP_KEY='<group key>'`,
        `hex() { od -An -tx1 | tr -d ' \\n'; }`,
        `DEVICE_KEY=$(printf %s "$DEVICE_ID" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf %s "$GROUP_KEY" | base64 -d | hex) -binary | hex)`,
        `TS=$(date +%s000); NONCE=$(openssl rand -hex 16)`,
        `SIG=$(printf 'hangar-provision\\n%s\\n%s\\n%s\\n%s' "$GROUP_ID" "$DEVICE_ID" "$TS" "$NONCE" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$DEVICE_KEY -binary | base64 -w0)`,
        `curl -sS ${url} -H 'content-type: application/json' \\`,
        `  -d "{\\"enrollmentGroupId\\":\\"$GROUP_ID\\",\\"deviceId\\":\\"$DEVICE_ID\\",\\"proof\\":{\\"timestamp\\":$TS,\\"nonce\\":\\"$NONCE\\",\\"signature\\":\\"$SIG\\"}}"`,
      ].join('\n');
      break;
    case 'ca':
      body = { ...base, certificatePem: '<device certificate: CN = device id, signed by the group’s CA>', proof };
      explanation = (
        <p>
          The device presents its certificate (CN = its id, signed by the group’s CA) and signs the payload with the certificate’s private
          key (ECDSA, RSA PKCS#1 v1.5 SHA-256 or Ed25519), which proves it holds that key.
        </p>
      );
      shell = [
        `TS=$(date +%s000); NONCE=$(openssl rand -hex 16)`,
        `SIG=$(printf 'hangar-provision\\n%s\\n%s\\n%s\\n%s' ${group.id} "$DEVICE_ID" "$TS" "$NONCE" | openssl dgst -sha256 -sign device.key | base64 -w0)`,
      ].join('\n');
      break;
  }
  return (
    <div className="card" data-testid="provision-example" data-mechanism={group.mechanism}>
      <h2>How a device enrolls</h2>
      {explanation}
      <pre className="json" data-testid="provision-example-body">
        {`POST ${url}\ncontent-type: application/json\n\n${JSON.stringify(body, null, 2)}`}
      </pre>
      {shell ? (
        <details>
          <summary>Compute the proof with openssl</summary>
          <pre className="json shell">{shell}</pre>
        </details>
      ) : null}
      <p className="muted">
        Answer: <code>201 {'{deviceId, tenant, enrollmentGroupId, credential}'}</code> — the device’s own {group.credentialType} credential,
        returned to it this once.{' '}
        {group.credentialType === 'x509' && group.mechanism !== 'ca' ? (
          <>
            Add <code>"csr"</code> (PEM) to keep the private key on the device.{' '}
          </>
        ) : null}
        Refusals: <code>401</code> wrong secret or proof, <code>403</code> group disabled, expired or full, <code>409</code> id taken.
      </p>
    </div>
  );
}
