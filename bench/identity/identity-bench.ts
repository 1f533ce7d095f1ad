/**
 * `npm run bench -- identity`: certificates issued per second from CSRs, and provisioning
 * requests per second through an enrollment group — both through the HTTP API of a whole
 * Hangar (in-process `inject`, so the figures include routing, validation, the transaction and
 * the audit entry), on each store. References from the same run: the bare PKI work (parse and
 * check the CSR, sign the certificate) and a plain device create through the same API.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import pino from 'pino';
import { createHangar, type Hangar } from '../../packages/server/src/app.js';
import { MasterKey } from '../../packages/server/src/core/identity/master-key.js';
import { encodeBitString, encodeOid, encodeSequence, encodeTlv, encodeUtf8String } from '../../packages/server/src/core/identity/pki/der.js';
import { createCa, createDeviceIssuer, encodePem, issueFromCsr, readCaPrivateKeyPem } from '../../packages/server/src/core/identity/pki/index.js';
import type { Dialect } from '../../packages/server/src/store/schema.js';
import type { BenchContext, BenchResult } from '../support/bench.js';
import { checkTarget, formatNumber, progress, ratio, type Figure } from '../support/measure.js';
import { postgresSchema, tempDir } from '../support/scratch.js';

const TARGET = { op: '≥' as const, value: 2000, unit: '/s' };
const CONCURRENCY = 32;

export async function runIdentityBench(ctx: BenchContext): Promise<BenchResult> {
  const n = Math.max(200, Math.round(4000 * ctx.scale));
  const figures: Figure[] = [];
  for (const store of ctx.stores) {
    const run = `r${randomBytes(3).toString('hex')}`;
    progress(`identity/${store}: making ${n} P-256 CSRs`);
    const csrs = await makeCsrs(run, n);
    const reference = await pkiReference(run, csrs);
    const hangar = await openHangar(store);
    try {
      figures.push(...(await measure(hangar, store, run, csrs, reference)));
    } finally {
      await hangar.close();
    }
  }
  return {
    title: 'Identity: certificate issuance and provisioning',
    figures,
    notes: [
      `${formatNumber(n)} requests per figure, ${CONCURRENCY} in flight, through \`inject()\` (no socket): routing, schema validation, the store transaction and the audit entry included.`,
      'Reference for issuance: the bare PKI work per CSR (parse, verify its signature, check the key and CN, sign the certificate) in the same process, 32 at a time on the main thread.',
      'Issuance and enrollment commit in groups (`core/identity/group-commit.ts`): concurrent requests share one transaction, each in its own savepoint.',
      'Reference for provisioning: creating a device through POST /api/v1/devices, the same transaction without the credential.',
    ],
  };
}

async function openHangar(store: Dialect): Promise<Hangar> {
  const dir = tempDir('hangar-bench-identity');
  const schema = store === 'postgres' ? postgresSchema() : undefined;
  return createHangar({
    dataDir: dir.path,
    databaseUrl: schema?.baseUrl,
    databaseSchema: schema?.schema,
    adminToken: ADMIN,
    masterKey: MasterKey.forTests(),
    logger: pino({ level: 'silent' }),
    webRoot: dir.path,
  });
}

const ADMIN = `hk_bench_${randomBytes(18).toString('base64url')}`;

async function measure(hangar: Hangar, store: Dialect, run: string, csrs: string[], reference: number): Promise<Figure[]> {
  const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  progress(`identity/${store}: creating ${csrs.length} devices (provisioning reference)`);
  const creates = await throughput(csrs.length, async (i) => {
    const res = await hangar.http.inject({ method: 'POST', url: '/api/v1/devices', headers, payload: JSON.stringify({ id: `${run}-dev-${i}` }) });
    if (res.statusCode !== 201) throw new Error(`create failed: ${res.body}`);
  });

  progress(`identity/${store}: issuing ${csrs.length} certificates from CSRs`);
  const issued = await throughput(csrs.length, async (i) => {
    const res = await hangar.http.inject({ method: 'POST', url: `/api/v1/devices/${run}-dev-${i}/credentials`, headers, payload: JSON.stringify({ type: 'x509', csr: csrs[i] }) });
    if (res.statusCode !== 201) throw new Error(`issue failed: ${res.body}`);
  });

  const group = await hangar.http.inject({ method: 'POST', url: '/api/v1/enrollment-groups', headers, payload: JSON.stringify({ name: `bench ${run}`, mechanism: 'claim_token', credentialType: 'token' }) });
  const { id, claimToken } = group.json() as { id: string; claimToken: string };
  progress(`identity/${store}: provisioning ${csrs.length} devices through an enrollment group`);
  const provisioned = await throughput(csrs.length, async (i) => {
    const res = await hangar.http.inject({
      method: 'POST',
      url: '/device/v1/provision',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ enrollmentGroupId: id, deviceId: `${run}-enrolled-${i}`, claimToken }),
      // Distinct sources, as a fleet would be; one source is rate-limited only on failures anyway.
      remoteAddress: `10.0.${(i >> 8) & 255}.${i & 255}`,
    });
    if (res.statusCode !== 201) throw new Error(`provision failed: ${res.body}`);
  });

  return [
    { name: 'Certificates issued from CSRs (API)', store, result: `${formatNumber(issued)}/s`, reference: `bare PKI ${formatNumber(reference)}/s (${ratio(issued, reference)})`, target: checkTarget(issued, TARGET) },
    { name: 'Provisioning by claim token (token credential)', store, result: `${formatNumber(provisioned)}/s`, reference: `device create ${formatNumber(creates)}/s (${ratio(provisioned, creates)})`, target: checkTarget(provisioned, TARGET) },
  ];
}

/** Requests per second for `count` calls of `call(i)`, CONCURRENCY at a time. */
async function throughput(count: number, call: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await call(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

/** The PKI work of one issue alone, as the API does it: read and verify the CSR, check its key and CN, sign. */
async function pkiReference(run: string, csrs: string[]): Promise<number> {
  const ca = await createCa({ commonName: 'bench CA' });
  const issuer = createDeviceIssuer({ certificatePem: ca.certificatePem, privateKey: readCaPrivateKeyPem(ca.privateKeyPem) });
  progress('identity: bare PKI reference');
  return throughput(csrs.length, async (i) => {
    await issueFromCsr(issuer, { csrPem: csrs[i]!, deviceId: `${run}-dev-${i}` });
  });
}

/**
 * CSRs whose CN is the device id each will be issued for (`<run>-dev-<i>`), each for a fresh
 * P-256 key, as `openssl req` writes them (ecdsa-with-SHA256, empty attributes). Made with
 * Node's crypto and the server's DER encoder: @peculiar/x509 took ~5 ms per request, a minute
 * of setup per store at full scale.
 */
async function makeCsrs(run: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const cn = `${run}-dev-${i}`;
    const info = encodeSequence(
      encodeTlv(0x02, Uint8Array.of(0)),
      encodeSequence(encodeTlv(0x31, encodeSequence(encodeOid('2.5.4.3'), encodeUtf8String(cn)))),
      publicKey.export({ format: 'der', type: 'spki' }),
      encodeTlv(0xa0),
    );
    const der = encodeSequence(info, encodeSequence(encodeOid('1.2.840.10045.4.3.2')), encodeBitString(sign('sha256', info, privateKey)));
    out.push(encodePem(der, 'CERTIFICATE REQUEST'));
  }
  return out;
}
