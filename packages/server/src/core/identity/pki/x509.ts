// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata
// polyfill loaded before the library itself: this module is the one door to the library, so
// every PKI file imports `x509` from here and never from '@peculiar/x509' directly.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

// Node's WebCrypto is the only provider we use. Setting it is idempotent: every import of this
// module sets the same object, so there is no state a caller could observe or need to swap.
x509.cryptoProvider.set(webcrypto);

export { x509, webcrypto };

// Node's WebCrypto types: the server compiles without the DOM lib, so the global names are absent.
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
