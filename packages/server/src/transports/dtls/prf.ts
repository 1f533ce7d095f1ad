import { createHash, createHmac } from 'node:crypto';

/** TLS 1.2 PRF with SHA-256, P_SHA256 (RFC 5246 §5). */
export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const fullSeed = Buffer.concat([Buffer.from(label, 'ascii'), seed]);
  const out: Buffer[] = [];
  let produced = 0;
  let a = fullSeed;
  while (produced < length) {
    a = createHmac('sha256', secret).update(a).digest();
    const block = createHmac('sha256', secret).update(a).update(fullSeed).digest();
    out.push(block);
    produced += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

export function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** RFC 4279 §2: the PSK premaster secret is (len, zeros, len, psk). */
export function pskPremaster(psk: Buffer): Buffer {
  const out = Buffer.alloc(4 + psk.length * 2);
  out.writeUInt16BE(psk.length, 0);
  out.writeUInt16BE(psk.length, 2 + psk.length);
  psk.copy(out, 4 + psk.length);
  return out;
}

/** RFC 5246 §8.1 (classic) or RFC 7627 §4 (extended master secret over the session hash). */
export function masterSecret(
  premaster: Buffer,
  input: { extended: true; sessionHash: Buffer } | { extended: false; clientRandom: Buffer; serverRandom: Buffer },
): Buffer {
  return input.extended
    ? prf(premaster, 'extended master secret', input.sessionHash, 48)
    : prf(premaster, 'master secret', Buffer.concat([input.clientRandom, input.serverRandom]), 48);
}

export interface KeyBlock {
  clientKey: Buffer;
  serverKey: Buffer;
  clientIv: Buffer;
  serverIv: Buffer;
}

/** RFC 5246 §6.3 for an AEAD suite without MAC keys: AES-128-CCM_8 takes 16-byte keys and 4-byte implicit IVs (RFC 6655 §3). */
export function keyBlock(master: Buffer, clientRandom: Buffer, serverRandom: Buffer): KeyBlock {
  const block = prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 40);
  return {
    clientKey: block.subarray(0, 16),
    serverKey: block.subarray(16, 32),
    clientIv: block.subarray(32, 36),
    serverIv: block.subarray(36, 40),
  };
}

/** RFC 5246 §7.4.9. */
export function finishedVerifyData(master: Buffer, sender: 'client' | 'server', transcriptHash: Buffer): Buffer {
  return prf(master, `${sender} finished`, transcriptHash, 12);
}
