import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, type CaMaterial } from './ca.js';
import { IssuancePool, type PoolCa } from './issuance-pool.js';
import { readCaPrivateKeyPem } from './keys.js';
import { encodePem } from './pem.js';
import { NEW_KEY, opensslCsr, suiteWorkspace } from './openssl-fixture.js';

const ws = suiteWorkspace();
let pool: IssuancePool;
let caA: CaMaterial;
let caB: CaMaterial;
const poolCa = (id: string, ca: CaMaterial): PoolCa => ({ id, certificatePem: ca.certificatePem, privateKey: readCaPrivateKeyPem(ca.privateKeyPem) });

beforeAll(async () => {
  pool = new IssuancePool(2);
  caA = await createCa({ commonName: 'Pool CA A' });
  caB = await createCa({ commonName: 'Pool CA B' });
  await ws.write('a.pem', caA.certificatePem);
  await ws.write('b.pem', caB.certificatePem);
});
afterAll(() => pool?.close());

describe('the issuance pool', () => {
  it('certifies CSRs on worker threads, under each CA it is given, and openssl verifies every certificate', async () => {
    const kinds = ['P-256', 'P-384', 'Ed25519', 'RSA-2048'] as const;
    const csrs = await Promise.all(kinds.map((kind) => opensslCsr(ws, `pool-${kind}`, NEW_KEY[kind])));
    const issued = await Promise.all(
      csrs.flatMap((csrPem, i) => [
        pool.issueFromCsr(poolCa('a', caA), { csrPem, deviceId: `pool-${kinds[i]}` }),
        pool.issueFromCsr(poolCa('b', caB), { csrPem, deviceId: `pool-${kinds[i]}` }),
      ]),
    );
    expect(issued.map((r) => r.keyAlgorithm)).toEqual(['P-256', 'P-256', 'P-384', 'P-384', 'Ed25519', 'Ed25519', 'RSA-2048', 'RSA-2048']);
    for (const [i, r] of issued.entries()) {
      const file = await ws.write(`pool-${i}.pem`, r.certificate.certificatePem);
      expect(await ws.ok(['verify', '-CAfile', i % 2 === 0 ? 'a.pem' : 'b.pem', file])).toContain(': OK');
      expect(r.certificate.notAfter).toBeInstanceOf(Date);
    }
  });

  it('answers refusals as the same VALIDATION_FAILED errors as issuance on the main thread', async () => {
    const csrPem = await opensslCsr(ws, 'pool-bad', NEW_KEY['P-256'], 'someone-else');
    await expect(pool.issueFromCsr(poolCa('a', caA), { csrPem, deviceId: 'pool-bad' })).rejects.toMatchObject({
      name: 'HangarError',
      code: 'VALIDATION_FAILED',
      message: `the CSR's subject CN "someone-else" names another device; it must be "pool-bad" or absent`,
    });
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01;
    await expect(pool.issueFromCsr(poolCa('a', caA), { csrPem: encodePem(der, 'CERTIFICATE REQUEST'), deviceId: 'someone-else' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/its signature does not verify/),
    });
    const weak = await opensslCsr(ws, 'pool-weak', NEW_KEY['RSA-1024']);
    await expect(pool.issueFromCsr(poolCa('a', caA), { csrPem: weak, deviceId: 'pool-weak' })).rejects.toMatchObject({ message: expect.stringMatching(/RSA 1024-bit keys are too weak/) });
  });

  it('refuses work once closed', async () => {
    const closing = new IssuancePool(1);
    await closing.close();
    await expect(closing.issueFromCsr(poolCa('a', caA), { csrPem: 'x', deviceId: 'x' })).rejects.toThrow(/closed/);
  });
});
