import { generateKeyPairSync, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, type CaMaterial } from './ca.js';
import { parseCsr } from './csr.js';
import { createDeviceIssuer, type DeviceCertificateIssuer } from './fast-issuer.js';
import { DAY_MS } from './issuance-rules.js';
import { readCaPrivateKeyPem } from './keys.js';
import { NEW_KEY, opensslCsr, suiteWorkspace } from './openssl-fixture.js';

const NOW = new Date('2026-03-01T12:00:00.750Z');
const ws = suiteWorkspace();

let ca: CaMaterial;
let issuer: DeviceCertificateIssuer;

beforeAll(async () => {
  ca = await createCa({ commonName: 'Fast CA', now: NOW });
  issuer = createDeviceIssuer({ certificatePem: ca.certificatePem, privateKey: readCaPrivateKeyPem(ca.privateKeyPem) });
  await ws.write('ca.pem', ca.certificatePem);
});

const atTime = (date: Date): string => String(Math.floor(date.getTime() / 1000) + 60);

/** openssl's verdict on `pem` against `caFile`, at `at`. */
async function opensslVerify(name: string, pem: string, caFile = 'ca.pem', at = NOW): Promise<string> {
  await ws.write(`${name}.pem`, pem);
  const result = await ws.run(['verify', '-attime', atTime(at), '-CAfile', caFile, `${name}.pem`]);
  return result.stdout + result.stderr;
}

function errorOf(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a refusal');
}

describe('the hand-encoded device certificate', () => {
  it.each(['P-256', 'P-384', 'Ed25519', 'RSA-2048'] as const)('certifies an openssl %s CSR: openssl verifies it and reads every extension', async (kind) => {
    const csr = await parseCsr(await opensslCsr(ws, `fast-${kind}`, NEW_KEY[kind], `fast-${kind}`));
    const issued = issuer.issue({ spki: csr.publicKey, deviceId: `fast-${kind}`, now: NOW });
    expect(await opensslVerify(`cert-${kind}`, issued.certificatePem)).toBe(`cert-${kind}.pem: OK\n`);
    const text = await ws.ok(['x509', '-in', `cert-${kind}.pem`, '-noout', '-text']);
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toContain(`Subject: CN = fast-${kind}`);
    expect(text).toContain('Issuer: CN = Fast CA, O = Hangar');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(kind === 'RSA-2048' ? /Key Usage: critical\s+Digital Signature, Key Encipherment\n/ : /Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \s*\n\s+TLS Web Client Authentication\n/);
    // The SKI is RFC 5280 method 1, the SHA-1 of the key bits, which is what openssl computes too.
    const ski = /X509v3 Subject Key Identifier: \s*\n\s+(\S+)\n/.exec(text)?.[1];
    await ws.ok(['req', '-new', '-x509', '-key', `fast-${kind}.key`, '-subj', '/CN=ski', '-days', '1', '-out', `ski-${kind}.pem`]);
    expect(ski).toBe((await ws.ok(['x509', '-in', `ski-${kind}.pem`, '-noout', '-ext', 'subjectKeyIdentifier'])).split('\n')[1]?.trim());
    expect(await ws.ok(['x509', '-in', `cert-${kind}.pem`, '-noout', '-pubkey'])).toBe(csr.publicKeyPem);
    // Node's own reader agrees on issuer, serial and fingerprint.
    const node = new NodeX509Certificate(issued.certificatePem);
    expect(node.checkIssued(new NodeX509Certificate(ca.certificatePem))).toBe(true);
    expect(node.serialNumber.toLowerCase()).toBe(issued.serialHex);
    expect(node.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(issued.fingerprintSha256);
  });

  it('signs under a CA that openssl made (PrintableString names, no SKI): the issuer bytes match and the AKI is derived', async () => {
    await ws.ok(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ossl.key']);
    await ws.ok([
      'req', '-x509', '-key', 'ossl.key', '-utf8', '-subj', '/C=DE/O=Acme, Inc./CN=Acme Root', '-days', '30',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=none', '-addext', 'authorityKeyIdentifier=none', '-out', 'ossl-ca.pem',
    ]);
    const caText = await ws.ok(['x509', '-in', 'ossl-ca.pem', '-noout', '-text']);
    expect(caText).not.toContain('Subject Key Identifier');
    const osslIssuer = createDeviceIssuer({ certificatePem: await ws.read('ossl-ca.pem'), privateKey: readCaPrivateKeyPem(await ws.read('ossl.key')) });
    const csr = await parseCsr(await opensslCsr(ws, 'under-ossl', NEW_KEY['P-256']));
    const issued = osslIssuer.issue({ spki: csr.publicKey, deviceId: 'under-ossl' });
    expect(await opensslVerify('under-ossl-cert', issued.certificatePem, 'ossl-ca.pem', new Date())).toBe('under-ossl-cert.pem: OK\n');
    const text = await ws.ok(['x509', '-in', 'under-ossl-cert.pem', '-noout', '-issuer', '-ext', 'authorityKeyIdentifier']);
    expect(text).toContain('issuer=C = DE, O = "Acme, Inc.", CN = Acme Root');
    // The AKI is the SHA-1 of the CA's key bits, the SKI openssl would have given it.
    await ws.ok(['req', '-x509', '-key', 'ossl.key', '-subj', '/CN=same key', '-days', '1', '-out', 'same-key.pem']);
    const expectedKeyId = (await ws.ok(['x509', '-in', 'same-key.pem', '-noout', '-ext', 'subjectKeyIdentifier'])).split('\n')[1]?.trim();
    expect(text.split('\n')[2]?.trim()).toBe(expectedKeyId);
    expect(osslIssuer.keyId.toUpperCase().replace(/(..)(?!$)/g, '$1:')).toBe(expectedKeyId);
  });

  it('writes GeneralizedTime after 2049, as RFC 5280 requires, and openssl reads and verifies it', async () => {
    const later = new Date('2045-06-01T00:00:00Z');
    const longCa = await createCa({ commonName: 'Long CA', now: later, validityDays: 20 * 365 });
    await ws.write('long-ca.pem', longCa.certificatePem);
    const longIssuer = createDeviceIssuer({ certificatePem: longCa.certificatePem, privateKey: readCaPrivateKeyPem(longCa.privateKeyPem) });
    const csr = await parseCsr(await opensslCsr(ws, 'long-lived', NEW_KEY['P-256']));
    const issued = longIssuer.issue({ spki: csr.publicKey, deviceId: 'long-lived', validityDays: 3650, now: later });
    expect(issued.notAfter.toISOString()).toBe('2055-05-30T00:00:00.000Z');
    await ws.write('long.pem', issued.certificatePem);
    expect(await ws.ok(['asn1parse', '-in', 'long.pem'])).toMatch(/UTCTIME\s+:450531235500Z[\s\S]*GENERALIZEDTIME\s+:20550530000000Z/);
    expect(await opensslVerify('long-check', issued.certificatePem, 'long-ca.pem', new Date('2054-01-01T00:00:00Z'))).toBe('long-check.pem: OK\n');
  });

  it('starts five minutes early, lasts the asked days, and never outlives the CA', async () => {
    const csr = await parseCsr(await opensslCsr(ws, 'dates', NEW_KEY['P-256']));
    const issued = issuer.issue({ spki: csr.publicKey, deviceId: 'dates', now: NOW, validityDays: 30 });
    expect(issued.notBefore.toISOString()).toBe('2026-03-01T11:55:00.000Z');
    expect(issued.notAfter.getTime()).toBe(Math.floor(NOW.getTime() / 1000) * 1000 + 30 * DAY_MS);
    const clamped = issuer.issue({ spki: csr.publicKey, deviceId: 'dates', now: NOW, validityDays: 36_500 });
    expect(clamped.notAfter).toEqual(issuer.caNotAfter);
  });

  it('refuses bad requests with clear reasons', async () => {
    const good = (await parseCsr(await opensslCsr(ws, 'refusals', NEW_KEY['P-256']))).publicKey;
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
    const cases: Array<[string, Parameters<DeviceCertificateIssuer['issue']>[0], RegExp]> = [
      ['an invalid device id', { spki: good, deviceId: 'a b', now: NOW }, /device id "a b" is invalid/],
      ['an RSA-1024 key', { spki: weak, deviceId: 'weak', now: NOW }, /RSA 1024-bit keys are too weak/],
      ['bytes that are no key', { spki: Uint8Array.of(0x30, 0x00), deviceId: 'junk', now: NOW }, /an unreadable public key/],
      ['a time after the CA expired', { spki: good, deviceId: 'late', now: new Date('2040-01-01T00:00:00Z') }, /the CA certificate expired on 2036-/],
      ['zero days', { spki: good, deviceId: 'zero', now: NOW, validityDays: 0 }, /validityDays must be a number of days above 0/],
    ];
    for (const [name, request, message] of cases) {
      const err = errorOf(() => issuer.issue(request));
      expect(err.code, name).toBe('VALIDATION_FAILED');
      expect(err.message, name).toMatch(message);
    }
  });

  it('refuses a CA that cannot sign, before signing anything', async () => {
    const other = await createCa({ commonName: 'Other', now: NOW });
    const leaf = issuer.issue({ spki: (await parseCsr(await opensslCsr(ws, 'leaf', NEW_KEY['P-256']))).publicKey, deviceId: 'leaf', now: NOW });
    const key = readCaPrivateKeyPem(ca.privateKeyPem);
    const cases: Array<[string, Parameters<typeof createDeviceIssuer>[0], RegExp]> = [
      ['garbage', { certificatePem: 'nope', privateKey: key }, /CA certificate is not PEM/],
      ['a leaf as CA', { certificatePem: leaf.certificatePem, privateKey: key }, /is not a CA certificate/],
      ['another CA’s key', { certificatePem: other.certificatePem, privateKey: key }, /does not belong to the CA certificate/],
      ['an RSA key', { certificatePem: ca.certificatePem, privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }, /ECDSA P-256 signing key/],
      ['a public key', { certificatePem: ca.certificatePem, privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey }, /ECDSA P-256 signing key/],
    ];
    for (const [name, options, message] of cases) {
      const err = errorOf(() => createDeviceIssuer(options));
      expect(err.code, name).toBe('VALIDATION_FAILED');
      expect(err.message, name).toMatch(message);
    }
  });
});
