/**
 * Device credentials of a simulated fleet, and their NDJSON file form (one device a line):
 * `{"deviceId","token"}` or `{"deviceId","certFile","keyFile"}` with paths relative to the
 * file. The file written by `--save-credentials` is read back by `--credentials`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { isValidDeviceId } from '@hangar/protocol';

/** How a device authenticates: a token (MQTT password), a client certificate, or nothing (open brokers). */
export type DeviceCredential =
  | { deviceId: string; kind: 'token'; token: string }
  | { deviceId: string; kind: 'x509'; certPem: string; keyPem: string }
  | { deviceId: string; kind: 'anonymous' };

export class CredentialsError extends Error {}

/** One line of a per-device NDJSON file: its object, its valid and unique `deviceId`, and where it is (for messages). */
export interface DeviceLine {
  record: Record<string, unknown>;
  deviceId: string;
  where: string;
}

/**
 * Reads per-device NDJSON (the credentials file, the LwM2M PSK file): one object a line with a
 * valid `deviceId` listed once; blank lines are skipped. Each problem names its line, thrown
 * through `fail` so each caller keeps its own error type.
 */
export function readDeviceLines(text: string, source: string, fail: (message: string) => Error): DeviceLine[] {
  const out: DeviceLine[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `${source} line ${i + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw fail(`${where}: not JSON`);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw fail(`${where}: expected an object`);
    const r = record as Record<string, unknown>;
    if (typeof r.deviceId !== 'string' || !isValidDeviceId(r.deviceId)) throw fail(`${where}: "deviceId" must be a valid device id`);
    if (seen.has(r.deviceId)) throw fail(`${where}: device "${r.deviceId}" is listed twice`);
    seen.add(r.deviceId);
    out.push({ record: r, deviceId: r.deviceId, where });
  }
  return out;
}

/** Parses credential lines; each problem names its line. Certificates are read from disk, relative to `baseDir`. */
export function parseCredentials(text: string, baseDir: string, source = 'credentials'): DeviceCredential[] {
  const out: DeviceCredential[] = [];
  for (const { record: r, deviceId, where } of readDeviceLines(text, source, (m) => new CredentialsError(m))) {
    if (typeof r.token === 'string' && r.token !== '') {
      out.push({ deviceId, kind: 'token', token: r.token });
    } else if (typeof r.certFile === 'string' && typeof r.keyFile === 'string') {
      const read = (file: string): string => {
        const path = isAbsolute(file) ? file : resolve(baseDir, file);
        try {
          return readFileSync(path, 'utf8');
        } catch (err) {
          throw new CredentialsError(`${where}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        }
      };
      out.push({ deviceId, kind: 'x509', certPem: read(r.certFile), keyPem: read(r.keyFile) });
    } else {
      throw new CredentialsError(`${where}: needs "token", or "certFile" and "keyFile"`);
    }
  }
  return out;
}

export function readCredentialsFile(file: string): DeviceCredential[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CredentialsError(`cannot read credentials file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseCredentials(text, dirname(resolve(file)), file);
}

/**
 * Writes `credentials` as NDJSON to `file`; certificates and keys go to `<file>.d/` (keys mode
 * 0600), referenced relative to the file so that the pair can be moved together.
 */
export function writeCredentialsFile(file: string, credentials: readonly DeviceCredential[]): void {
  const lines: string[] = [];
  const certDir = `${resolve(file)}.d`;
  for (const c of credentials) {
    if (c.kind === 'token') lines.push(JSON.stringify({ deviceId: c.deviceId, token: c.token }));
    else if (c.kind === 'x509') {
      mkdirSync(certDir, { recursive: true, mode: 0o700 });
      const certFile = join(certDir, `${c.deviceId}.crt`);
      const keyFile = join(certDir, `${c.deviceId}.key`);
      writeFileSync(certFile, c.certPem);
      writeFileSync(keyFile, c.keyPem, { mode: 0o600 });
      const rel = (p: string): string => relative(dirname(resolve(file)), p);
      lines.push(JSON.stringify({ deviceId: c.deviceId, certFile: rel(certFile), keyFile: rel(keyFile) }));
    } else throw new CredentialsError(`device ${c.deviceId} has no credential to save`);
  }
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
}

/** Device ids `<prefix>000001`…: zero-padded so that they sort, and stable across runs. */
export function simulatedDeviceIds(prefix: string, count: number): string[] {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(6, '0')}`);
  const bad = ids.find((id) => !isValidDeviceId(id));
  if (bad !== undefined) throw new CredentialsError(`--prefix "${prefix}" makes invalid device ids such as "${bad}"`);
  return ids;
}
