import { describe, expect, it } from 'vitest';
import { settledOutcome } from './held-request.ts';

const held = { id: 'lwq_1', deviceId: 'd', op: 'read', createdAt: 1 };

describe('a held request that went out', () => {
  it('shows the device’s answer and its values', () => {
    const out = settledOutcome('/3/0/9', 'Read', { ...held, state: 'completed', response: { code: '2.05', success: true, values: [{ path: '/3/0/9', type: 'Integer', value: 80 }] } });
    expect(out).toEqual({ path: '/3/0/9', label: 'Read', answer: { status: 'completed', code: '2.05', values: [{ path: '/3/0/9', type: 'Integer', value: 80 }] } });
  });

  it('shows a device’s error code, and a request that failed, as errors', () => {
    const refused = settledOutcome('/3/0/9', 'Read', { ...held, state: 'completed', response: { code: '4.04', success: false, diagnostic: 'no such resource' } });
    expect(String(refused.error)).toContain('the device answered 4.04: no such resource');
    const failed = settledOutcome('/3/0/9', 'Read', { ...held, state: 'failed', error: 'the device did not answer' });
    expect(String(failed.error)).toContain('the device did not answer');
  });
});
