import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Stateless cookies for HelloVerifyRequest (RFC 6347 §4.2.1): HMAC over the client's address and
 * the ClientHello fields it must repeat, under a secret that rotates; the previous secret is still
 * accepted so a hello straddling a rotation is not refused.
 */
export class CookieJar {
  private current = randomBytes(32);
  private previous = randomBytes(32);
  private rotatedAt: number;

  constructor(
    private readonly rotationMs: number,
    private readonly now: () => number,
  ) {
    this.rotatedAt = now();
  }

  private rotate(): void {
    if (this.now() - this.rotatedAt < this.rotationMs) return;
    this.previous = this.current;
    this.current = randomBytes(32);
    this.rotatedAt = this.now();
  }

  private mac(secret: Buffer, source: string, helloFields: Buffer): Buffer {
    return createHmac('sha256', secret).update(source).update('\0').update(helloFields).digest();
  }

  make(source: string, helloFields: Buffer): Buffer {
    this.rotate();
    return this.mac(this.current, source, helloFields);
  }

  verify(source: string, helloFields: Buffer, cookie: Buffer): boolean {
    if (cookie.length !== 32) return false;
    this.rotate();
    return (
      timingSafeEqual(cookie, this.mac(this.current, source, helloFields)) || timingSafeEqual(cookie, this.mac(this.previous, source, helloFields))
    );
  }
}
