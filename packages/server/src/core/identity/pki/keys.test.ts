import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkAcceptedKey, describePublicKey, exportKeyPairPem, generateEcKeyPair, importPrivateKeyPem, spkiOf } from './keys.js';
import { suiteWorkspace, validationFailure } from './openssl-fixture.js';
import { webcrypto, x509 } from './x509.js';

const ws = suiteWorkspace();

/** DER SPKI of a key openssl generates with `genpkey`. */
async function opensslSpki(name: string, args: readonly string[]): Promise<Uint8Array> {
  await ws.ok(['genpkey', ...args, '-out', `${name}.key`]);
  const pem = await ws.ok(['pkey', '-in', `${name}.key`, '-pubout']);
  return new Uint8Array(createPublicKey(pem).export({ format: 'der', type: 'spki' }));
}

describe('key pairs', () => {
  it('generates a P-256 pair whose PKCS#8 PEM openssl reads as prime256v1', async () => {
    const { keys, privateKeyPem } = await generateEcKeyPair();
    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    await ws.write('gen.key', privateKeyPem);
    const text = await ws.ok(['pkey', '-in', 'gen.key', '-noout', '-text']);
    expect(text).toContain('ASN1 OID: prime256v1');
    expect(keys.publicKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
  });

  it('exports both halves as PEM that openssl pairs up', async () => {
    const { keys } = await generateEcKeyPair();
    const pem = await exportKeyPairPem(keys);
    expect(pem.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    await ws.write('pair.key', pem.privateKeyPem);
    expect(await ws.ok(['pkey', '-in', 'pair.key', '-pubout'])).toBe(pem.publicKeyPem);
  });
});

describe('importing a CA private key', () => {
  it('imports its own PKCS#8 PEM as a non-extractable ECDSA signing key', async () => {
    const { keys, privateKeyPem } = await generateEcKeyPair();
    const key = await importPrivateKeyPem(privateKeyPem);
    expect(key.extractable).toBe(false);
    expect(key.usages).toEqual(['sign']);
    const data = new TextEncoder().encode('hangar');
    const signature = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, data);
    expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, keys.publicKey, signature, data)).toBe(true);
  });

  it('imports keys openssl writes as PKCS#8 and as SEC 1 ("EC PRIVATE KEY")', async () => {
    await ws.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'pkcs8.key']);
    await ws.ok(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sec1.key']);
    const sec1 = await ws.read('sec1.key');
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    expect((await importPrivateKeyPem(await ws.read('pkcs8.key'))).algorithm).toMatchObject({ namedCurve: 'P-256' });
    expect((await importPrivateKeyPem(sec1)).algorithm).toMatchObject({ namedCurve: 'P-256' });
  });

  it('refuses keys that are not P-256, encrypted keys, public keys and garbage', async () => {
    await ws.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'p384.key']);
    await ws.ok(['genpkey', '-algorithm', 'ed25519', '-out', 'ed.key']);
    await ws.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes256', '-pass', 'pass:secret', '-out', 'enc.key']);
    await ws.ok(['pkey', '-in', 'ed.key', '-pubout', '-out', 'ed.pub']);
    expect(await validationFailure(importPrivateKeyPem(await ws.read('p384.key')))).toMatch(/must be an EC P-256 key \(found EC P-384\)/);
    expect(await validationFailure(importPrivateKeyPem(await ws.read('ed.key')))).toMatch(/found ED25519/);
    expect(await validationFailure(importPrivateKeyPem(await ws.read('enc.key')))).toMatch(/encrypted private keys are not supported/);
    expect(await validationFailure(importPrivateKeyPem(await ws.read('ed.pub')))).toMatch(/expected a PEM "PRIVATE KEY" block but got "PUBLIC KEY"/);
    expect(await validationFailure(importPrivateKeyPem('not a key'))).toMatch(/not PEM/);
  });
});

describe('public key policy', () => {
  it('names every key openssl can make, and accepts only P-256, P-384, Ed25519 and RSA ≥ 2048', async () => {
    const table: Array<[string, string[], string, boolean]> = [
      ['p256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'EC P-256', true],
      ['p384', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'EC P-384', true],
      ['ed25519', ['-algorithm', 'ed25519'], 'Ed25519', true],
      ['rsa2048', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], 'RSA 2048-bit', true],
      ['rsa1024', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'], 'RSA 1024-bit', false],
      ['p521', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'], 'EC P-521', false],
      ['k256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], 'EC secp256k1', false],
      ['ed448', ['-algorithm', 'ed448'], 'Ed448', false],
      ['x25519', ['-algorithm', 'x25519'], 'X25519', false],
      ['pss', ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'], 'RSA-PSS 2048-bit', false],
    ];
    for (const [name, args, description, accepted] of table) {
      const spki = await opensslSpki(name, args);
      expect(describePublicKey(spki).description, name).toBe(description);
      if (accepted) expect(() => checkAcceptedKey(spki, 'key'), name).not.toThrow();
      else expect(() => checkAcceptedKey(spki, 'key'), name).toThrow(new RegExp(`${description} keys are (too weak|not accepted): use RSA ≥ 2048, P-256, P-384 or Ed25519`));
    }
  });

  it('reports the RSA modulus length', async () => {
    const spki = await opensslSpki('rsa3072', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072']);
    expect(describePublicKey(spki)).toEqual({ keyAlgorithm: 'RSA', keySize: 3072, description: 'RSA 3072-bit' });
  });

  it('reads SPKI from WebCrypto keys and from parsed public keys alike, and refuses a private key', async () => {
    const { keys } = await generateEcKeyPair();
    const fromCryptoKey = await spkiOf(keys.publicKey);
    expect(await spkiOf(new x509.PublicKey(fromCryptoKey))).toEqual(fromCryptoKey);
    expect(await validationFailure(spkiOf(keys.privateKey))).toMatch(/must be a public key, not a private key/);
  });
});
