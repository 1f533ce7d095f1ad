import { describe, expect, it } from 'vitest';
import { createCa, parseCaCertificate } from './ca.js';
import { CLOCK_SKEW_MS, DAY_MS } from './certificate.js';
import { encodePem } from './pem.js';
import { opensslCsr, suiteWorkspace, validationFailure, NEW_KEY } from './openssl-fixture.js';

const NOW = new Date('2026-03-01T12:00:00.250Z');

const ws = suiteWorkspace();

/** A CA made by `openssl req -x509` with the given extensions (`-addext` values). */
async function opensslCa(name: string, newKey: readonly string[], extensions: readonly string[], days = 30): Promise<string> {
  const addext = extensions.flatMap((e) => ['-addext', e]);
  await ws.ok(['req', '-x509', ...newKey, '-nodes', '-keyout', `${name}.key`, '-subj', `/O=Acme/CN=${name}`, '-days', String(days), ...addext, '-out', `${name}.pem`]);
  return ws.read(`${name}.pem`);
}

describe('creating a CA', () => {
  it('makes a self-signed P-256 CA that openssl reads as CA:TRUE, pathlen 0, keyCertSign + cRLSign', async () => {
    const ca = await createCa({ commonName: 'Hangar device CA (t1)', now: NOW });
    await ws.write('own-ca.pem', ca.certificatePem);
    const text = await ws.ok(['x509', '-in', 'own-ca.pem', '-noout', '-text']);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toMatch(/X509v3 Subject Key Identifier:/);
    expect(text).toContain('NIST CURVE: P-256');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toContain('Subject: CN = Hangar device CA (t1), O = Hangar');
    expect(text).toContain('Issuer: CN = Hangar device CA (t1), O = Hangar');
    expect(ca.subject).toBe('CN=Hangar device CA (t1), O=Hangar');
    // A self-signed root verifies against itself.
    expect(await ws.ok(['verify', '-CAfile', 'own-ca.pem', 'own-ca.pem'])).toContain('OK');
    expect(ca.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('returns the serial openssl prints, and ten years of validity from five minutes before now', async () => {
    const ca = await createCa({ commonName: 'Serial CA', now: NOW });
    await ws.write('serial-ca.pem', ca.certificatePem);
    const out = await ws.ok(['x509', '-in', 'serial-ca.pem', '-noout', '-serial', '-startdate', '-enddate']);
    expect(out).toContain(`serial=${ca.serialHex.toUpperCase()}\n`);
    expect(ca.serialHex).toMatch(/^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);
    const notBefore = Math.floor((NOW.getTime() - CLOCK_SKEW_MS) / 1000) * 1000;
    expect(ca.notAfter.getTime()).toBe(notBefore + 3650 * DAY_MS);
    expect(out).toContain(`notBefore=Mar  1 11:55:00 2026 GMT`);
    expect(out).toContain(`notAfter=${opensslDate(ca.notAfter)}`);
  });

  it('takes the validity as a parameter', async () => {
    const ca = await createCa({ commonName: 'Short CA', now: NOW, validityDays: 30 });
    expect(ca.notAfter.getTime() - (NOW.getTime() - CLOCK_SKEW_MS)).toBeLessThanOrEqual(30 * DAY_MS);
    expect(ca.notAfter.getTime() - (NOW.getTime() - CLOCK_SKEW_MS)).toBeGreaterThan(30 * DAY_MS - 1000);
  });

  it.each([
    ['an empty name', { commonName: '' }, /common name must be 1–64 characters/],
    ['a name over 64 characters', { commonName: 'x'.repeat(65) }, /common name must be 1–64 characters/],
    ['a control character', { commonName: 'a\nb' }, /without control characters/],
    ['zero days', { commonName: 'ok', validityDays: 0 }, /validityDays must be a number of days above 0/],
    ['an invalid now', { commonName: 'ok', now: new Date('nope') }, /now must be a valid Date/],
  ])('refuses %s', async (_name, options, message) => {
    expect(await validationFailure(createCa(options))).toMatch(message);
  });
});

describe('parsing a registered CA certificate', () => {
  it('reads its own CA back with the fields openssl reports', async () => {
    const ca = await createCa({ commonName: 'Round trip', now: NOW });
    const parsed = await parseCaCertificate(ca.certificatePem, NOW);
    await ws.write('rt.pem', ca.certificatePem);
    const fingerprint = await ws.ok(['x509', '-in', 'rt.pem', '-noout', '-fingerprint', '-sha256']);
    expect(fingerprint).toBe(`sha256 Fingerprint=${parsed.fingerprintSha256.toUpperCase().replace(/(..)(?!$)/g, '$1:')}\n`);
    expect(parsed).toMatchObject({
      pem: ca.certificatePem,
      subject: ca.subject,
      issuer: ca.subject,
      commonName: 'Round trip',
      serialHex: ca.serialHex,
      notAfter: ca.notAfter,
      isCa: true,
      keyAlgorithm: 'P-256',
    });
    expect(parsed.keySize).toBeUndefined();
  });

  it('accepts CAs made by openssl (EC and RSA) and re-encodes their PEM canonically', async () => {
    const ec = await opensslCa('acme-ec', NEW_KEY['P-256'], ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']);
    const rsa = await opensslCa('acme-rsa', NEW_KEY['RSA-2048'], ['basicConstraints=critical,CA:TRUE']);
    const parsedEc = await parseCaCertificate(`\n${ec.replace(/\n/g, '\r\n')}\n`);
    expect(parsedEc.pem).toBe(ec);
    expect(parsedEc).toMatchObject({ subject: 'O=Acme, CN=acme-ec', commonName: 'acme-ec', isCa: true, keyAlgorithm: 'P-256' });
    const serial = await ws.ok(['x509', '-in', 'acme-rsa.pem', '-noout', '-serial']);
    const parsedRsa = await parseCaCertificate(rsa);
    expect(parsedRsa).toMatchObject({ keyAlgorithm: 'RSA', keySize: 2048, isCa: true });
    expect(`serial=${parsedRsa.serialHex.toUpperCase()}\n`).toBe(serial);
  });

  it('refuses a certificate that is not a CA, naming the reason', async () => {
    const leaf = await opensslCa('leaf', NEW_KEY['P-256'], ['basicConstraints=critical,CA:FALSE']);
    expect(await validationFailure(parseCaCertificate(leaf))).toMatch(/"O=Acme, CN=leaf" is not a CA certificate: it has no basicConstraints extension with cA true/);
  });

  it('refuses a CA whose keyUsage does not allow signing certificates', async () => {
    const pem = await opensslCa('no-sign', NEW_KEY['P-256'], ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature']);
    expect(await validationFailure(parseCaCertificate(pem))).toMatch(/may not sign certificates: its keyUsage lacks keyCertSign/);
  });

  it('refuses an expired CA and one not valid yet', async () => {
    const past = await createCa({ commonName: 'Old CA', now: new Date('2020-01-01T00:00:00Z'), validityDays: 1 });
    expect(await validationFailure(parseCaCertificate(past.certificatePem, NOW))).toMatch(/"CN=Old CA, O=Hangar" expired on 2020-01-01T23:55:00.000Z/);
    const future = await createCa({ commonName: 'Future CA', now: new Date(NOW.getTime() + DAY_MS) });
    expect(await validationFailure(parseCaCertificate(future.certificatePem, NOW))).toMatch(/is not valid before/);
    // A notBefore within the clock-skew allowance is fine.
    const skewed = await createCa({ commonName: 'Skewed CA', now: new Date(NOW.getTime() + CLOCK_SKEW_MS) });
    await expect(parseCaCertificate(skewed.certificatePem, NOW)).resolves.toMatchObject({ isCa: true });
  });

  it('refuses garbage, truncated PEM, two certificates and a CSR, with clear reasons', async () => {
    const ca = await createCa({ commonName: 'Bad input', now: NOW });
    const csr = await opensslCsr(ws, 'not-a-ca', NEW_KEY['P-256']);
    const der = Buffer.from(ca.certificatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const cases: Array<[string, string, RegExp]> = [
      ['garbage', 'definitely not a certificate', /CA certificate is not PEM/],
      ['truncated PEM', ca.certificatePem.slice(0, 200), /CA certificate: the PEM block is truncated/],
      ['a block whose DER was cut', encodePem(der.subarray(0, der.length - 10), 'CERTIFICATE'), /CA certificate: the DER content is truncated/],
      ['two certificates', ca.certificatePem + ca.certificatePem, /expected one PEM block, found 2/],
      ['a CSR', csr, /expected a PEM "CERTIFICATE" block but got "CERTIFICATE REQUEST"/],
      ['a SEQUENCE that is not a certificate', encodePem(Uint8Array.from([0x30, 3, 2, 1, 5]), 'CERTIFICATE'), /does not hold a valid X\.509 certificate/],
    ];
    for (const [name, input, message] of cases) expect(await validationFailure(parseCaCertificate(input, NOW)), name).toMatch(message);
  });
});

/** `Mar  1 11:55:00 2036 GMT`, as openssl prints dates. */
function opensslDate(date: Date): string {
  const month = date.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const day = String(date.getUTCDate()).padStart(2, ' ');
  return `${month} ${day} ${date.toISOString().slice(11, 19)} ${date.getUTCFullYear()} GMT`;
}
