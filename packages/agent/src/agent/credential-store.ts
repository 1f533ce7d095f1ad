/**
 * The device's credential in its state dir (`credential.json`, mode 0600 in a 0700 dir): written
 * once by enrollment, read on every start. Written to a temp file (created 0600) and renamed,
 * so a crash never leaves half a credential and the secret is never readable by others.
 */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { FirmwareSigningKey } from '@hangar/protocol';
import type { AgentCredential } from './agent.js';

export const CREDENTIAL_FILE = 'credential.json';

export interface StoredCredential {
  deviceId: string;
  credential: AgentCredential;
  /** CA of the tenant that issued a certificate, when enrollment handed one out. */
  caPem?: string;
  enrollmentGroupId?: string;
  enrolledAt?: string;
  /** Only in an enrollment's answer (kept apart, in `firmware-keys.json`): the tenant's firmware signing keys. */
  firmwareSigningKeys?: FirmwareSigningKey[];
}

export function credentialPath(stateDir: string): string {
  return join(stateDir, CREDENTIAL_FILE);
}

export function loadCredential(stateDir: string): StoredCredential | undefined {
  let text: string;
  try {
    text = readFileSync(credentialPath(stateDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${credentialPath(stateDir)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let stored: StoredCredential;
  try {
    stored = JSON.parse(text) as StoredCredential;
  } catch (err) {
    throw new Error(`${credentialPath(stateDir)} is not JSON; remove it to enroll again`, { cause: err });
  }
  const c = stored.credential as Partial<AgentCredential> | undefined;
  const valid = typeof stored.deviceId === 'string' && c !== undefined && ((c.kind === 'token' && typeof c.token === 'string') || (c.kind === 'x509' && typeof c.certPem === 'string' && typeof c.keyPem === 'string'));
  if (!valid) throw new Error(`${credentialPath(stateDir)} holds no usable credential; remove it to enroll again`);
  return stored;
}

export function saveCredential(stateDir: string, stored: StoredCredential): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = credentialPath(stateDir);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(stored, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // The mode of open() is masked by the umask and kept from an existing temp file: set it outright.
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
