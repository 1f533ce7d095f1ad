import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, type CaMaterial } from './ca.js';
import { DAY_MS, issueDeviceCertificate, type CaKey, type IssuedCertificate } from './certificate.js';
import { buildCrl, type CrlEntry } from './crl.js';
import { generateEcKeyPair, importPrivateKeyPem } from './keys.js';
import { suiteWorkspace, validationFailure } from './openssl-fixture.js';

const NOW = new Date('2026-03-01T12:00:00.500Z');
const AT_TIME = String(Math.floor(NOW.getTime() / 1000) + 60);

const ws = suiteWorkspace();
let ca: CaMaterial;
let signer: CaKey;
let revoked: IssuedCertificate;
let healthy: IssuedCertificate;

async function issue(deviceId: string): Promise<IssuedCertificate> {
  const { keys } = await generateEcKeyPair();
  return issueDeviceCertificate({ ca: signer, subjectPublicKey: keys.publicKey, deviceId, now: NOW });
}

beforeAll(async () => {
  ca = await createCa({ commonName: 'CRL CA', now: NOW });
  signer = { certificatePem: ca.certificatePem, privateKey: await importPrivateKeyPem(ca.privateKeyPem) };
  revoked = await issue('revoked-device');
  healthy = await issue('healthy-device');
  await ws.write('ca.pem', ca.certificatePem);
  await ws.write('revoked.pem', revoked.certificatePem);
  await ws.write('healthy.pem', healthy.certificatePem);
});

/** Writes the CRL and answers `openssl crl -text`, checking the CA's signature on it as well. */
async function opensslCrlText(name: string, crlPem: string): Promise<string> {
  await ws.write(name, crlPem);
  const result = await ws.run(['crl', '-in', name, '-noout', '-text', '-CAfile', 'ca.pem']);
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toContain('verify OK');
  return result.stdout;
}

async function verifyWithCrl(crlFile: string, certFile: string): Promise<string> {
  const result = await ws.run(['verify', '-attime', AT_TIME, '-crl_check', '-CRLfile', crlFile, '-CAfile', 'ca.pem', certFile]);
  return result.stdout + result.stderr;
}

describe('building CRLs', () => {
  it('lists a revoked serial so that openssl refuses that certificate and accepts the others', async () => {
    const crl = await buildCrl({ ca: signer, crlNumber: 5, entries: [{ serialHex: revoked.serialHex, revokedAt: new Date('2026-02-28T10:00:00Z'), reason: 'keyCompromise' }], now: NOW });
    expect(crl.crlPem).toMatch(/^-----BEGIN X509 CRL-----\n[\s\S]+\n-----END X509 CRL-----\n$/);
    const text = await opensslCrlText('revoked.crl', crl.crlPem);
    expect(text).toContain('Version 2 (0x1)');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toContain('Issuer: CN = CRL CA, O = Hangar');
    expect(text).toContain('Last Update: Mar  1 12:00:00 2026 GMT');
    expect(text).toContain('Next Update: Mar  8 12:00:00 2026 GMT');
    expect(text).toMatch(/X509v3 CRL Number: \s*\n\s+5\n/);
    expect(text).toMatch(new RegExp(`Serial Number: ${revoked.serialHex.toUpperCase()}\\n\\s+Revocation Date: Feb 28 10:00:00 2026 GMT`));
    expect(text).toMatch(/X509v3 CRL Reason Code: \s*\n\s+Key Compromise/);
    const caSki = (await ws.ok(['x509', '-in', 'ca.pem', '-noout', '-ext', 'subjectKeyIdentifier'])).split('\n')[1]?.trim();
    expect(text).toMatch(new RegExp(`X509v3 Authority Key Identifier: \\s*\\n\\s+${caSki}`));
    expect(crl.thisUpdate).toEqual(new Date('2026-03-01T12:00:00Z'));
    expect(crl.nextUpdate).toEqual(new Date('2026-03-08T12:00:00Z'));

    expect(await verifyWithCrl('revoked.crl', 'revoked.pem')).toContain('certificate revoked');
    expect(await verifyWithCrl('revoked.crl', 'healthy.pem')).toBe('healthy.pem: OK\n');
  });

  it('builds an empty CRL that lets every certificate through', async () => {
    const crl = await buildCrl({ ca: signer, crlNumber: 1, entries: [], now: NOW });
    expect(await opensslCrlText('empty.crl', crl.crlPem)).toContain('No Revoked Certificates.');
    expect(await verifyWithCrl('empty.crl', 'revoked.pem')).toBe('revoked.pem: OK\n');
  });

  it('writes the reason code when given, and none for "unspecified" (RFC 5280 §5.3.1)', async () => {
    const serials = ['0a01', '0a02', '0a03', '0a04'];
    const entries: CrlEntry[] = [
      { serialHex: serials[0] as string, revokedAt: NOW, reason: 'superseded' },
      { serialHex: serials[1] as string, revokedAt: NOW, reason: 'cessationOfOperation' },
      { serialHex: serials[2] as string, revokedAt: NOW, reason: 'unspecified' },
      { serialHex: serials[3] as string, revokedAt: NOW },
    ];
    const text = await opensslCrlText('reasons.crl', (await buildCrl({ ca: signer, crlNumber: 2, entries, now: NOW })).crlPem);
    expect(text).toMatch(/Serial Number: 0A01\n\s+Revocation Date: [^\n]+\n\s+CRL entry extensions:\n\s+X509v3 CRL Reason Code: \s*\n\s+Superseded/);
    expect(text).toMatch(/Serial Number: 0A02\n\s+Revocation Date: [^\n]+\n\s+CRL entry extensions:\n\s+X509v3 CRL Reason Code: \s*\n\s+Cessation Of Operation/);
    expect(text).toMatch(/Serial Number: 0A03\n\s+Revocation Date: [^\n]+\n\s+Serial Number: 0A04\n\s+Revocation Date: [^\n]+\n\s+Signature Algorithm/);
  });

  it('normalises serial spellings so that they still match the certificate', async () => {
    const entries = [{ serialHex: `00${revoked.serialHex.toUpperCase()}`, revokedAt: NOW }];
    const crl = await buildCrl({ ca: signer, crlNumber: 3, entries, now: NOW });
    await ws.write('spelled.crl', crl.crlPem);
    expect(await verifyWithCrl('spelled.crl', 'revoked.pem')).toContain('certificate revoked');
    const odd = await buildCrl({ ca: signer, crlNumber: 4, entries: [{ serialHex: 'abc', revokedAt: NOW }], now: NOW });
    expect(await opensslCrlText('odd.crl', odd.crlPem)).toContain('Serial Number: 0ABC\n');
  });

  it.each([0, 127, 128, 255, 256, 65_535, 2 ** 40])('encodes CRL number %d as openssl reads it', async (crlNumber) => {
    const text = await opensslCrlText(`n${crlNumber}.crl`, (await buildCrl({ ca: signer, crlNumber, entries: [], now: NOW })).crlPem);
    const printed = /X509v3 CRL Number: \s*\n\s+(\S+)\n/.exec(text)?.[1];
    expect(printed && (printed.startsWith('0x') ? parseInt(printed, 16) : Number(printed))).toBe(crlNumber);
  });

  it('takes nextUpdate from validityDays', async () => {
    const crl = await buildCrl({ ca: signer, crlNumber: 9, entries: [], now: NOW, validityDays: 1 });
    expect(crl.nextUpdate.getTime() - crl.thisUpdate.getTime()).toBe(DAY_MS);
    expect(await opensslCrlText('short.crl', crl.crlPem)).toContain('Next Update: Mar  2 12:00:00 2026 GMT');
  });

  it('refuses bad input with clear reasons', async () => {
    const other = await createCa({ commonName: 'Other', now: NOW });
    const base = { ca: signer, crlNumber: 1, entries: [] as CrlEntry[], now: NOW };
    const cases: Array<[string, Parameters<typeof buildCrl>[0], RegExp]> = [
      ['a negative CRL number', { ...base, crlNumber: -1 }, /crlNumber must be a non-negative integer/],
      ['a fractional CRL number', { ...base, crlNumber: 1.5 }, /crlNumber must be a non-negative integer/],
      ['a serial that is not hex', { ...base, entries: [{ serialHex: 'xyz', revokedAt: NOW }] }, /entries\[0\]\.serialHex must be 1–40 hexadecimal digits/],
      ['a serial over 20 octets', { ...base, entries: [{ serialHex: 'a'.repeat(41), revokedAt: NOW }] }, /1–40 hexadecimal digits/],
      ['an invalid date', { ...base, entries: [{ serialHex: '01', revokedAt: new Date('x') }] }, /entries\[0\]\.revokedAt must be a valid Date/],
      ['an unknown reason', { ...base, entries: [{ serialHex: '01', revokedAt: NOW, reason: 'lost' as 'superseded' }] }, /reason must be keyCompromise/],
      ['a serial listed twice', { ...base, entries: [{ serialHex: 'abcd', revokedAt: NOW }, { serialHex: '00ABCD', revokedAt: NOW }] }, /serial 00abcd is listed twice/],
      ['zero validity', { ...base, validityDays: 0 }, /validityDays must be a number of days above 0/],
      ['a key that is not the CA’s', { ...base, ca: { certificatePem: other.certificatePem, privateKey: signer.privateKey } }, /does not belong to the CA certificate/],
    ];
    for (const [name, options, message] of cases) expect(await validationFailure(buildCrl(options)), name).toMatch(message);
  });
});
