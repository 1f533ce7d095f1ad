import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { retryDelay } from './backoff.js';
import { signatureHeader } from './signature.js';
import { checkOrGenerateSecret, checkWebhookUrl } from './webhook.js';

describe('webhook rules', () => {
  it('doubles the delay per failed attempt up to the cap, with bounded jitter', () => {
    const policy = { baseDelayMs: 10_000, maxDelayMs: 60_000, jitter: 0 };
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(n, policy))).toEqual([10_000, 20_000, 40_000, 60_000, 60_000]);
    const jittered = { ...policy, jitter: 0.2 };
    expect(retryDelay(1, jittered, () => 0)).toBe(8_000);
    expect(retryDelay(1, jittered, () => 1)).toBe(12_000);
  });

  it('signs timestamp.body with HMAC-SHA256', () => {
    expect(signatureHeader('s3cret', '1700000000', '{"a":1}')).toBe(`sha256=${createHmac('sha256', 's3cret').update('1700000000.{"a":1}').digest('hex')}`);
  });

  it('accepts http(s) URLs only', () => {
    expect(checkWebhookUrl('https://example.test/a?b=c')).toBe('https://example.test/a?b=c');
    for (const bad of ['file:///etc/passwd', 'ws://x.test/', 'mailto:a@b.c', '/relative', 'http://', 'https://user:pw@x.test/']) {
      expect(() => checkWebhookUrl(bad), bad).toThrow();
    }
  });

  it('generates strong secrets and checks given ones', () => {
    expect(checkOrGenerateSecret(undefined)).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(() => checkOrGenerateSecret('short')).toThrow(/16–256/);
    expect(() => checkOrGenerateSecret('has spaces in it, sadly')).toThrow(/printable/);
  });
});
