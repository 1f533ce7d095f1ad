import { createCipheriv, createDecipheriv } from 'node:crypto';

/** AES-128-CCM with an 8-byte tag as TLS uses it (RFC 6655 §3): nonce = 4-byte implicit IV ‖ 8-byte explicit part. */
export const CCM8_EXPLICIT_NONCE = 8;
export const CCM8_TAG = 8;
export const CCM8_OVERHEAD = CCM8_EXPLICIT_NONCE + CCM8_TAG;

export class Ccm8 {
  constructor(
    private readonly key: Buffer,
    private readonly implicitIv: Buffer,
  ) {}

  /** Returns explicit nonce ‖ ciphertext ‖ tag. `explicitNonce` is the record's epoch ‖ sequence number in DTLS. */
  seal(explicitNonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
    const nonce = Buffer.concat([this.implicitIv, explicitNonce]);
    const cipher = createCipheriv('aes-128-ccm', this.key, nonce, { authTagLength: CCM8_TAG });
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([explicitNonce, body, cipher.getAuthTag()]);
  }

  /** `aadFor` builds the additional data from the plaintext length. Undefined when authentication fails. */
  open(sealed: Buffer, aadFor: (plaintextLength: number) => Buffer): Buffer | undefined {
    if (sealed.length < CCM8_OVERHEAD) return undefined;
    const explicitNonce = sealed.subarray(0, CCM8_EXPLICIT_NONCE);
    const body = sealed.subarray(CCM8_EXPLICIT_NONCE, sealed.length - CCM8_TAG);
    const tag = sealed.subarray(sealed.length - CCM8_TAG);
    try {
      const nonce = Buffer.concat([this.implicitIv, explicitNonce]);
      const decipher = createDecipheriv('aes-128-ccm', this.key, nonce, { authTagLength: CCM8_TAG });
      decipher.setAuthTag(tag);
      decipher.setAAD(aadFor(body.length), { plaintextLength: body.length });
      const plain = decipher.update(body);
      decipher.final();
      return plain;
    } catch {
      return undefined;
    }
  }
}
