import { createHmac } from 'node:crypto';

/**
 * `X-Hangar-Signature: sha256=<hex>` over `<timestamp>.<body>`: binding the timestamp lets a
 * receiver refuse replays of an old, validly signed request.
 */
export function signatureHeader(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}
