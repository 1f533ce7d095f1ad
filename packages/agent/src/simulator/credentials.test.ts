import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialsError, parseCredentials, readCredentialsFile, simulatedDeviceIds, writeCredentialsFile, type DeviceCredential } from './credentials.js';
import { splitEvenly } from './worker-pool.js';

const dirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-sim-cred-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('credentials files', () => {
  it('reads token and certificate lines, certificate paths relative to the file', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'a.crt'), 'CERT');
    writeFileSync(join(dir, 'a.key'), 'KEY');
    const text = ['{"deviceId":"sim-1","token":"dt_x"}', '', '{"deviceId":"sim-2","certFile":"a.crt","keyFile":"a.key"}'].join('\n');
    expect(parseCredentials(text, dir)).toEqual([
      { deviceId: 'sim-1', kind: 'token', token: 'dt_x' },
      { deviceId: 'sim-2', kind: 'x509', certPem: 'CERT', keyPem: 'KEY' },
    ]);
  });

  it.each([
    ['not json', /line 1: not JSON/],
    ['[1]', /line 1: expected an object/],
    ['{"deviceId":"a/b","token":"t"}', /valid device id/],
    ['{"deviceId":"a"}', /needs "token", or "certFile" and "keyFile"/],
    ['{"deviceId":"a","token":""}', /needs "token"/],
    ['{"deviceId":"a","token":"t"}\n{"deviceId":"a","token":"u"}', /line 2: device "a" is listed twice/],
    ['{"deviceId":"a","certFile":"missing.crt","keyFile":"missing.key"}', /cannot read .*missing\.crt: ENOENT/],
  ])('names the line of a bad entry: %s', (text, message) => {
    expect(() => parseCredentials(text, scratch(), 'creds.ndjson')).toThrow(CredentialsError);
    expect(() => parseCredentials(text, scratch(), 'creds.ndjson')).toThrow(message);
  });

  it('writes a file that reads back the same, keys private to the owner', () => {
    const dir = scratch();
    const file = join(dir, 'fleet.ndjson');
    const creds: DeviceCredential[] = [
      { deviceId: 'sim-000001', kind: 'token', token: 'dt_abc' },
      { deviceId: 'sim-000002', kind: 'x509', certPem: '-----BEGIN CERTIFICATE-----\n', keyPem: '-----BEGIN PRIVATE KEY-----\n' },
    ];
    writeCredentialsFile(file, creds);
    expect(readCredentialsFile(file)).toEqual(creds);
    expect(readFileSync(file, 'utf8')).toContain('"certFile":"fleet.ndjson.d/sim-000002.crt"');
    expect(statSync(`${file}.d/sim-000002.key`).mode & 0o077).toBe(0);
    expect(statSync(file).mode & 0o077).toBe(0);
  });

  it('refuses to save a device without a credential, and reports an unreadable file', () => {
    expect(() => writeCredentialsFile(join(scratch(), 'x'), [{ deviceId: 'a', kind: 'anonymous' }])).toThrow(/no credential/);
    expect(() => readCredentialsFile(join(scratch(), 'absent.ndjson'))).toThrow(/cannot read credentials file .*ENOENT/);
  });
});

describe('simulatedDeviceIds', () => {
  it('makes zero-padded ids under the prefix', () => {
    expect(simulatedDeviceIds('sim-', 3)).toEqual(['sim-000001', 'sim-000002', 'sim-000003']);
  });

  it('refuses a prefix that makes invalid ids', () => {
    expect(() => simulatedDeviceIds('bad/', 1)).toThrow(/--prefix "bad\/"/);
  });
});

describe('splitEvenly', () => {
  it('splits into contiguous shares differing by one at most, and no empty share', () => {
    expect(splitEvenly([1, 2, 3, 4, 5], 2)).toEqual([[1, 2, 3], [4, 5]]);
    expect(splitEvenly([1, 2], 4)).toEqual([[1], [2]]);
  });
});
