import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { HangarError } from '../../errors.js';
import { createCa, generateEcKeyPair, importPrivateKeyPem } from './pki/index.js';
import { encodePem, PEM_LABEL } from './pki/pem.js';
import { x509 } from './pki/x509.js';
import type { MasterKey } from './master-key.js';

/** What the TLS listeners (HTTPS, MQTTS) present, and the CA that clients should trust. */
export interface ServerTls {
  certificatePem: string;
  privateKeyPem: string;
  /** The installation CA that signed the certificate (served at /pki/server-ca.pem); null when the operator gave a certificate. */
  caPem: string | null;
  source: 'generated' | 'provided';
}

export interface ServerTlsOptions {
  dataDir: string;
  masterKey: MasterKey;
  /** `--tls-cert/--tls-key`: PEM files of the operator's own server certificate and key. */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Extra DNS names or IP addresses the generated certificate must cover. */
  hostnames?: string[] | undefined;
  now?: () => number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Browsers and Apple's TLS stack refuse server certificates valid longer than 398 days. */
const SERVER_CERT_DAYS = 397;
/** A generated certificate is replaced at start when less than this is left. */
const RENEW_BEFORE_MS = 30 * DAY_MS;

/**
 * The server certificate of the TLS listeners. Unless the operator gives one, Hangar makes an
 * installation CA on first start (its key sealed with the master key, in <data-dir>/tls) and a
 * server certificate from it covering localhost, this host's name, the loopback addresses and
 * any configured names; devices pin the CA from `GET /pki/server-ca.pem`. The server certificate
 * is re-made when it nears expiry or the names changed (at start, and when `hangar serve`
 * reloads it: twice a day and on SIGHUP); the CA stays, so devices keep trusting it. Files, not the database: in scale-out the operator gives each node the load
 * balancer's certificate with --tls-cert/--tls-key.
 */
export async function loadOrCreateServerTls(options: ServerTlsOptions): Promise<ServerTls> {
  if (options.certFile !== undefined || options.keyFile !== undefined) return loadProvided(options);
  const now = (options.now ?? Date.now)();
  const dir = join(options.dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'server-ca.pem');
  const caKeyFile = join(dir, 'server-ca.key.sealed');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key.sealed');

  if (!existsSync(caFile) || !existsSync(caKeyFile)) {
    const ca = await createCa({ commonName: `Hangar installation CA ${hostname()}`.slice(0, 64), now: new Date(now) });
    writeAtomic(caKeyFile, options.masterKey.encrypt(ca.privateKeyPem, 'server-ca'));
    writeAtomic(caFile, ca.certificatePem);
  }
  const caPem = readFileSync(caFile, 'utf8');
  const names = serverNames(options.hostnames);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const current = new X509Certificate(readFileSync(certFile, 'utf8'));
    const fresh = Date.parse(current.validTo) - now > RENEW_BEFORE_MS && current.checkIssued(new X509Certificate(caPem));
    const covers = names.every((n) => (isIP(n) ? current.checkIP(n) : current.checkHost(n)) !== undefined);
    if (fresh && covers) return { certificatePem: current.toString(), privateKeyPem: options.masterKey.decrypt(readFileSync(keyFile, 'utf8'), 'server-tls'), caPem, source: 'generated' };
  }
  const caKeyPem = options.masterKey.decrypt(readFileSync(caKeyFile, 'utf8'), 'server-ca');
  const issued = await issueServerCertificate(caPem, caKeyPem, names, now);
  writeAtomic(keyFile, options.masterKey.encrypt(issued.privateKeyPem, 'server-tls'));
  writeAtomic(certFile, issued.certificatePem);
  return { ...issued, caPem, source: 'generated' };
}

function loadProvided(options: ServerTlsOptions): ServerTls {
  if (options.certFile === undefined || options.keyFile === undefined) throw new HangarError('VALIDATION_FAILED', '--tls-cert and --tls-key go together');
  const read = (file: string, flag: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new HangarError('VALIDATION_FAILED', `${flag} ${file}: ${(err as Error).message}`);
    }
  };
  const certificatePem = read(options.certFile, '--tls-cert');
  const privateKeyPem = read(options.keyFile, '--tls-key');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch {
    throw new HangarError('VALIDATION_FAILED', `--tls-cert ${options.certFile} is not a PEM certificate`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch {
    throw new HangarError('VALIDATION_FAILED', `--tls-key ${options.keyFile} is not a PEM private key`);
  }
  if (!cert.checkPrivateKey(key)) throw new HangarError('VALIDATION_FAILED', `--tls-key ${options.keyFile} is not the key of the certificate in --tls-cert`);
  return { certificatePem, privateKeyPem, caPem: null, source: 'provided' };
}

/** localhost, this host's name, the loopback addresses, then what the operator added. */
export function serverNames(extra: string[] = []): string[] {
  const names = ['localhost', hostname(), '127.0.0.1', '::1', ...extra.map((n) => n.trim()).filter((n) => n !== '')];
  return [...new Set(names)];
}

async function issueServerCertificate(caPem: string, caKeyPem: string, names: string[], now: number): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const caCert = new x509.X509Certificate(caPem);
  const caKey = await importPrivateKeyPem(caKeyPem);
  const { keys, privateKeyPem } = await generateEcKeyPair('P-256');
  const notBefore = new Date(Math.floor((now - 5 * 60 * 1000) / 1000) * 1000);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: new x509.Name([{ CN: [{ utf8String: names[1] ?? 'localhost' }] }, { O: [{ utf8String: 'Hangar' }] }]),
    issuer: caCert.subjectName,
    notBefore,
    notAfter: new Date(notBefore.getTime() + SERVER_CERT_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certificatePem: encodePem(cert.rawData, PEM_LABEL.certificate), privateKeyPem };
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // a positive INTEGER (RFC 5280 §4.1.2.2)
  return Buffer.from(bytes).toString('hex');
}

function writeAtomic(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
