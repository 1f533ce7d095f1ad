import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, type CaMaterial } from './ca.js';
import { CLOCK_SKEW_MS, DAY_MS, issueDeviceCertificate, parseCertificate, verifySignedBy, type CaKey } from './certificate.js';
import { parseCsr } from './csr.js';
import { generateEcKeyPair, importPrivateKeyPem } from './keys.js';
import { encodePem } from './pem.js';
import { opensslCsr, suiteWorkspace, validationFailure, NEW_KEY } from './openssl-fixture.js';
import { webcrypto, type CryptoKeyPair } from './x509.js';

const NOW = new Date('2026-03-01T12:00:00.750Z');

const ws = suiteWorkspace();
let ca: CaMaterial;
let signer: CaKey;

beforeAll(async () => {
  ca = await createCa({ commonName: 'Device CA', now: NOW });
  signer = { certificatePem: ca.certificatePem, privateKey: await importPrivateKeyPem(ca.privateKeyPem) };
  await ws.write('ca.pem', ca.certificatePem);
});

async function issueForNewKey(deviceId: string, options: { ca?: CaKey; now?: Date; validityDays?: number } = {}): Promise<Awaited<ReturnType<typeof issueDeviceCertificate>>> {
  const { keys } = await generateEcKeyPair();
  return issueDeviceCertificate({ ca: options.ca ?? signer, subjectPublicKey: keys.publicKey, deviceId, now: options.now ?? NOW, validityDays: options.validityDays });
}

/** openssl's verdict on `certPem` against the test CA, at the fixed test time. */
async function opensslVerify(name: string, certPem: string): Promise<string> {
  await ws.write(`${name}.pem`, certPem);
  const result = await ws.run(['verify', '-attime', String(Math.floor(NOW.getTime() / 1000) + 60), '-CAfile', 'ca.pem', `${name}.pem`]);
  return result.stdout + result.stderr;
}

describe('issuing device certificates', () => {
  it('issues a certificate openssl verifies, with CN, serial, extensions and validity as specified', async () => {
    const issued = await issueForNewKey('sensor-001');
    expect(await opensslVerify('sensor-001', issued.certificatePem)).toBe('sensor-001.pem: OK\n');

    const text = await ws.ok(['x509', '-in', 'sensor-001.pem', '-noout', '-text', '-serial', '-subject', '-fingerprint', '-sha256']);
    expect(text).toContain(`serial=${issued.serialHex.toUpperCase()}\n`);
    expect(issued.serialHex).toMatch(/^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);
    expect(text).toContain('subject=CN = sensor-001\n');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \s*\n\s+TLS Web Client Authentication\n/);
    expect(text).toMatch(/X509v3 Subject Key Identifier:/);
    expect(text).toContain(`sha256 Fingerprint=${issued.fingerprintSha256.toUpperCase().replace(/(..)(?!$)/g, '$1:')}`);

    // The AKI is the CA's SKI.
    const caSki = (await ws.ok(['x509', '-in', 'ca.pem', '-noout', '-ext', 'subjectKeyIdentifier'])).split('\n')[1]?.trim();
    const aki = (await ws.ok(['x509', '-in', 'sensor-001.pem', '-noout', '-ext', 'authorityKeyIdentifier'])).split('\n')[1]?.trim();
    expect(aki).toBe(caSki);

    // Valid from five minutes before now (whole seconds) until 365 days after now.
    const notBefore = Math.floor((NOW.getTime() - CLOCK_SKEW_MS) / 1000) * 1000;
    expect(issued.notBefore.getTime()).toBe(notBefore);
    expect(issued.notAfter.getTime()).toBe(Math.floor(NOW.getTime() / 1000) * 1000 + 365 * DAY_MS);
    const dates = await ws.ok(['x509', '-in', 'sensor-001.pem', '-noout', '-startdate', '-enddate']);
    expect(dates).toBe('notBefore=Mar  1 11:55:00 2026 GMT\nnotAfter=Mar  1 12:00:00 2027 GMT\n');
  });

  it('issues certificates Node’s own X.509 reader accepts as issued by the CA', async () => {
    const issued = await issueForNewKey('node-check');
    const cert = new NodeX509Certificate(issued.certificatePem);
    const caCert = new NodeX509Certificate(ca.certificatePem);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.serialNumber.toLowerCase()).toBe(issued.serialHex);
    expect(cert.subject).toBe('CN=node-check');
  });

  it('makes serials that are random, positive, 16 octets with no leading zero octet', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const issued = await issueForNewKey(`serial-${i}`);
      expect(issued.serialHex).toMatch(/^(0[1-9a-f]|[1-7][0-9a-f])[0-9a-f]{30}$/);
      expect(new NodeX509Certificate(issued.certificatePem).serialNumber).toBe(issued.serialHex.toUpperCase());
      serials.add(issued.serialHex);
    }
    expect(serials.size).toBe(40);
  });

  it.each(['P-256', 'P-384', 'Ed25519', 'RSA-2048'] as const)('certifies the key of an openssl %s CSR, signed by the CA with ECDSA-SHA256', async (kind) => {
    const csr = await parseCsr(await opensslCsr(ws, `csr-${kind}`, NEW_KEY[kind], 'requested-name'));
    const deviceId = `dev-${kind}`;
    const issued = await issueDeviceCertificate({ ca: signer, subjectPublicKey: csr.publicKey, deviceId, now: NOW });
    expect(await opensslVerify(deviceId, issued.certificatePem)).toBe(`${deviceId}.pem: OK\n`);
    const text = await ws.ok(['x509', '-in', `${deviceId}.pem`, '-noout', '-text', '-subject']);
    expect(text).toContain(`subject=CN = ${deviceId}\n`); // never the CN the CSR asked for
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toMatch(kind === 'RSA-2048' ? /Key Usage: critical\s+Digital Signature, Key Encipherment/ : /Key Usage: critical\s+Digital Signature\n/);
    // The certified key is the one in the CSR.
    const certKey = await ws.ok(['x509', '-in', `${deviceId}.pem`, '-noout', '-pubkey']);
    expect(certKey).toBe(csr.publicKeyPem);
    const parsed = await parseCertificate(issued.certificatePem);
    expect(parsed).toMatchObject({ commonName: deviceId, keyAlgorithm: csr.keyAlgorithm, isCa: false });
    expect(parsed.keySize).toBe(kind === 'RSA-2048' ? 2048 : undefined);
  });

  it('accepts the longest device id (128 characters) in the CN, and openssl verifies it', async () => {
    const deviceId = `${'a'.repeat(60)}:${'b'.repeat(60)}._-${'c'.repeat(4)}`;
    expect(deviceId).toHaveLength(128);
    const issued = await issueForNewKey(deviceId);
    expect(await opensslVerify('long-id', issued.certificatePem)).toBe('long-id.pem: OK\n');
    expect((await parseCertificate(issued.certificatePem)).commonName).toBe(deviceId);
  });

  it('never outlives the CA', async () => {
    const shortCa = await createCa({ commonName: 'Short CA', now: NOW, validityDays: 10 });
    const shortSigner = { certificatePem: shortCa.certificatePem, privateKey: await importPrivateKeyPem(shortCa.privateKeyPem) };
    const issued = await issueForNewKey('clamped', { ca: shortSigner, validityDays: 365 });
    expect(issued.notAfter).toEqual(shortCa.notAfter);
  });

  it('refuses bad input with clear reasons', async () => {
    const { keys } = await generateEcKeyPair();
    const otherCa = await createCa({ commonName: 'Other CA', now: NOW });
    const weak = (await webcrypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const expired = await createCa({ commonName: 'Expired CA', now: new Date('2020-01-01T00:00:00Z'), validityDays: 1 });
    const leaf = await issueForNewKey('leaf');
    const base = { ca: signer, subjectPublicKey: keys.publicKey, deviceId: 'ok', now: NOW };
    const cases: Array<[string, Parameters<typeof issueDeviceCertificate>[0], RegExp]> = [
      ['an invalid device id', { ...base, deviceId: 'has space' }, /device id "has space" is invalid/],
      ['an empty device id', { ...base, deviceId: '' }, /device id "" is invalid/],
      ['a private key as subject key', { ...base, subjectPublicKey: keys.privateKey }, /must be a public key, not a private key/],
      ['an RSA-1024 key', { ...base, subjectPublicKey: weak.publicKey }, /RSA 1024-bit keys are too weak/],
      ['a CA key that is not the CA certificate’s', { ...base, ca: { certificatePem: otherCa.certificatePem, privateKey: signer.privateKey } }, /does not belong to the CA certificate/],
      ['a non-CA certificate as CA', { ...base, ca: { certificatePem: leaf.certificatePem, privateKey: signer.privateKey } }, /is not a CA certificate/],
      ['a non-ECDSA CA key', { ...base, ca: { certificatePem: ca.certificatePem, privateKey: weak.privateKey } }, /ECDSA P-256 signing key/],
      ['an expired CA', { ...base, ca: { certificatePem: expired.certificatePem, privateKey: await importPrivateKeyPem(expired.privateKeyPem) } }, /the CA certificate expired on 2020-01-01/],
      ['negative validity', { ...base, validityDays: -1 }, /validityDays must be a number of days above 0/],
      ['garbage CA PEM', { ...base, ca: { certificatePem: 'nope', privateKey: signer.privateKey } }, /CA certificate is not PEM/],
    ];
    for (const [name, options, message] of cases) expect(await validationFailure(issueDeviceCertificate(options)), name).toMatch(message);
  });
});

describe('parsing certificates', () => {
  it('reads the fields of an issued certificate', async () => {
    const issued = await issueForNewKey('parsed-1');
    const parsed = await parseCertificate(issued.certificatePem);
    expect(parsed).toEqual({
      pem: issued.certificatePem,
      subject: 'CN=parsed-1',
      commonName: 'parsed-1',
      issuer: ca.subject,
      serialHex: issued.serialHex,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      fingerprintSha256: issued.fingerprintSha256,
      isCa: false,
      keyAlgorithm: 'P-256',
    });
  });

  it('answers a null CN for a subject without one', async () => {
    await ws.ok(['req', '-x509', ...NEW_KEY['P-256'], '-nodes', '-keyout', 'no-cn.key', '-subj', '/O=No CN', '-days', '1', '-out', 'no-cn.pem']);
    expect((await parseCertificate(await ws.read('no-cn.pem'))).commonName).toBeNull();
  });

  it('refuses garbage, truncated and multiple PEM blocks', async () => {
    const issued = await issueForNewKey('bad-input');
    const der = Buffer.from(issued.certificatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(await validationFailure(parseCertificate('garbage'))).toMatch(/certificate is not PEM/);
    expect(await validationFailure(parseCertificate(issued.certificatePem.slice(0, 150)))).toMatch(/truncated/);
    expect(await validationFailure(parseCertificate(encodePem(der.subarray(0, 200), 'CERTIFICATE')))).toMatch(/DER content is truncated/);
    expect(await validationFailure(parseCertificate(issued.certificatePem + ca.certificatePem))).toMatch(/expected one PEM block, found 2/);
  });
});

describe('verifying who signed a certificate', () => {
  it('answers true for a certificate the CA issued', async () => {
    const issued = await issueForNewKey('verified');
    expect(await verifySignedBy(issued.certificatePem, ca.certificatePem, NOW)).toBe(true);
  });

  it('answers false for a certificate from another CA', async () => {
    const other = await createCa({ commonName: 'Device CA', now: NOW }); // same name, other key
    const otherSigner = { certificatePem: other.certificatePem, privateKey: await importPrivateKeyPem(other.privateKeyPem) };
    const foreign = await issueForNewKey('foreign', { ca: otherSigner });
    expect(await verifySignedBy(foreign.certificatePem, ca.certificatePem, NOW)).toBe(false);
    expect(await verifySignedBy(foreign.certificatePem, other.certificatePem, NOW)).toBe(true);
  });

  it('answers false outside the certificate’s validity, or the CA’s', async () => {
    const issued = await issueForNewKey('expiring', { validityDays: 1 });
    expect(await verifySignedBy(issued.certificatePem, ca.certificatePem, new Date(issued.notAfter.getTime() + 1000))).toBe(false);
    expect(await verifySignedBy(issued.certificatePem, ca.certificatePem, new Date(issued.notBefore.getTime() - 1000))).toBe(false);
    const shortCa = await createCa({ commonName: 'Brief CA', now: NOW, validityDays: 2 });
    const briefSigner = { certificatePem: shortCa.certificatePem, privateKey: await importPrivateKeyPem(shortCa.privateKeyPem) };
    const inner = await issueForNewKey('inner', { ca: briefSigner });
    expect(await verifySignedBy(inner.certificatePem, shortCa.certificatePem, NOW)).toBe(true);
    expect(await verifySignedBy(inner.certificatePem, shortCa.certificatePem, new Date(shortCa.notAfter.getTime() + 1000))).toBe(false);
  });

  it('answers false for a corrupted signature', async () => {
    const issued = await issueForNewKey('tampered');
    const der = Buffer.from(issued.certificatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01;
    expect(await verifySignedBy(encodePem(der, 'CERTIFICATE'), ca.certificatePem, NOW)).toBe(false);
  });

  it('checks certificates openssl signed with an RSA and an EC CA (bring your own CA)', async () => {
    for (const [name, newKey] of [
      ['byo-rsa', NEW_KEY['RSA-2048']],
      ['byo-ec', NEW_KEY['P-384']],
    ] as const) {
      await ws.ok(['req', '-x509', ...newKey, '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${name}`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-out', `${name}-ca.pem`]);
      await opensslCsr(ws, `${name}-dev`, NEW_KEY['P-256']);
      await ws.ok(['x509', '-req', '-in', `${name}-dev.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}.key`, '-set_serial', '0x1234', '-days', '1', '-out', `${name}-dev.pem`]);
      const caPem = await ws.read(`${name}-ca.pem`);
      const devPem = await ws.read(`${name}-dev.pem`);
      expect(await verifySignedBy(devPem, caPem), name).toBe(true);
      expect(await verifySignedBy(devPem, ca.certificatePem), name).toBe(false);
      expect((await parseCertificate(devPem)).serialHex).toBe('1234');
    }
  });

  it('uses a CA key that openssl generated to issue certificates openssl verifies', async () => {
    await ws.ok(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ossl-ca.key']);
    await ws.ok(['req', '-x509', '-key', 'ossl-ca.key', '-subj', '/O=Acme/CN=Acme Root', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ossl-ca.pem']);
    const osslCa = { certificatePem: await ws.read('ossl-ca.pem'), privateKey: await importPrivateKeyPem(await ws.read('ossl-ca.key')) };
    const issued = await issueForNewKey('by-ossl-ca', { ca: osslCa, now: new Date() });
    await ws.write('by-ossl-ca.pem', issued.certificatePem);
    expect(await ws.ok(['verify', '-CAfile', 'ossl-ca.pem', 'by-ossl-ca.pem'])).toBe('by-ossl-ca.pem: OK\n');
  });

  it('throws VALIDATION_FAILED for PEM that does not parse', async () => {
    expect(await validationFailure(verifySignedBy('junk', ca.certificatePem))).toMatch(/certificate is not PEM/);
    expect(await validationFailure(verifySignedBy(ca.certificatePem, 'junk'))).toMatch(/CA certificate is not PEM/);
  });
});
