import { describe, expect, it } from 'vitest';
import { Block1Assembler } from './block1-assembler.js';

const limits = { maxBodyBytes: 100, maxTotalBytes: 150, maxUploadsPerOwner: 2, maxBytesPerOwner: 150, idleTimeoutMs: 1000 };

function chunks(body: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) out.push(body.subarray(at, at + size));
  return out;
}

describe('Block1Assembler', () => {
  it('reassembles a body sent in order, whatever the tokens were', () => {
    const a = new Block1Assembler(limits);
    const body = Buffer.from('x'.repeat(70));
    const parts = chunks(body, 16);
    parts.forEach((part, num) => {
      const outcome = a.offer('peer|telemetry', 'dev', { num, more: num < parts.length - 1, szx: 0 }, part, num === 0 ? 70 : undefined);
      if (num < parts.length - 1) expect(outcome).toEqual({ kind: 'continue' });
      else expect(outcome).toEqual({ kind: 'complete', body });
    });
    expect(a.pending).toBe(0);
    expect(a.bytesHeld).toBe(0);
  });

  it('answers a repeated block (a lost 2.31) without taking it twice', () => {
    const a = new Block1Assembler(limits);
    a.offer('k', 'dev', { num: 0, more: true, szx: 0 }, Buffer.alloc(16, 1), undefined);
    expect(a.offer('k', 'dev', { num: 0, more: true, szx: 0 }, Buffer.alloc(16, 1), undefined).kind).toBe('continue');
    a.offer('k', 'dev', { num: 1, more: true, szx: 0 }, Buffer.alloc(16, 2), undefined);
    expect(a.offer('k', 'dev', { num: 1, more: true, szx: 0 }, Buffer.alloc(16, 2), undefined).kind).toBe('continue');
    const done = a.offer('k', 'dev', { num: 2, more: false, szx: 0 }, Buffer.from([3]), undefined);
    expect(done).toEqual({ kind: 'complete', body: Buffer.concat([Buffer.alloc(16, 1), Buffer.alloc(16, 2), Buffer.from([3])]) });
  });

  it('refuses a gap or an unknown continuation as incomplete', () => {
    const a = new Block1Assembler(limits);
    expect(a.offer('k', 'dev', { num: 3, more: true, szx: 0 }, Buffer.alloc(16), undefined).kind).toBe('incomplete');
    a.offer('k', 'dev', { num: 0, more: true, szx: 0 }, Buffer.alloc(16), undefined);
    expect(a.offer('k', 'dev', { num: 2, more: true, szx: 0 }, Buffer.alloc(16), undefined).kind).toBe('incomplete');
    expect(a.pending).toBe(0);
  });

  it('refuses a body over the cap, early when Size1 announces it', () => {
    const a = new Block1Assembler(limits);
    expect(a.offer('k', 'dev', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), 500).kind).toBe('too_large');
    expect(a.offer('k', 'dev', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('continue');
    expect(a.offer('k', 'dev', { num: 1, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('too_large');
    expect(a.bytesHeld).toBe(0);
  });

  it('refuses blocks of the wrong size and BERT', () => {
    const a = new Block1Assembler(limits);
    expect(a.offer('k', 'dev', { num: 0, more: true, szx: 0 }, Buffer.alloc(10), undefined).kind).toBe('bad_block');
    expect(a.offer('k', 'dev', { num: 0, more: false, szx: 0 }, Buffer.alloc(17), undefined).kind).toBe('bad_block');
    expect(a.offer('k', 'dev', { num: 0, more: true, szx: 7 }, Buffer.alloc(16), undefined).kind).toBe('bad_block');
  });

  it('keeps uploads of different keys apart and bounds the bytes they hold together', () => {
    const a = new Block1Assembler(limits);
    expect(a.offer('a', 'dev-a', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('continue');
    expect(a.offer('b', 'dev-b', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('continue');
    expect(a.offer('c', 'dev-c', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('busy');
    expect(a.offer('a', 'dev-a', { num: 1, more: false, szx: 2 }, Buffer.alloc(10), undefined)).toMatchObject({ kind: 'complete' });
    expect(a.offer('c', 'dev-c', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('continue');
  });

  it('lets one owner hold at most its quota of uploads while other owners still start theirs', () => {
    const a = new Block1Assembler({ ...limits, maxTotalBytes: 10_000 });
    expect(a.offer('tag-1', 'greedy', { num: 0, more: true, szx: 0 }, Buffer.alloc(16), undefined).kind).toBe('continue');
    expect(a.offer('tag-2', 'greedy', { num: 0, more: true, szx: 0 }, Buffer.alloc(16), undefined).kind).toBe('continue');
    const third = a.offer('tag-3', 'greedy', { num: 0, more: true, szx: 0 }, Buffer.alloc(16), undefined);
    expect(third).toMatchObject({ kind: 'busy', reason: expect.stringMatching(/this device already has 2 unfinished/) });
    // Restarting one of its own uploads (block 0 again) is not a new one.
    expect(a.offer('tag-1', 'greedy', { num: 0, more: true, szx: 0 }, Buffer.alloc(16), undefined).kind).toBe('continue');
    expect(a.offer('other', 'polite', { num: 0, more: true, szx: 0 }, Buffer.alloc(16), undefined).kind).toBe('continue');
    expect(a.pending).toBe(3);
    // Finishing one frees a slot.
    expect(a.offer('tag-2', 'greedy', { num: 1, more: false, szx: 0 }, Buffer.from('}'), undefined)).toMatchObject({ kind: 'complete' });
    expect(a.offer('tag-3', 'greedy', { num: 0, more: true, szx: 0 }, Buffer.alloc(16), undefined).kind).toBe('continue');
  });

  it('bounds the bytes one owner holds across its uploads, and frees them when an upload goes', () => {
    let now = 0;
    const a = new Block1Assembler({ ...limits, maxTotalBytes: 10_000, maxBytesPerOwner: 100 }, () => now);
    expect(a.offer('x', 'dev', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('continue');
    const over = a.offer('y', 'dev', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined);
    expect(over).toMatchObject({ kind: 'busy', reason: expect.stringMatching(/more than 100 bytes/) });
    expect(a.pending).toBe(1);
    expect(a.offer('z', 'other', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('continue');
    // An expired upload gives its owner's quota back.
    now = 5000;
    expect(a.offer('y', 'dev', { num: 0, more: true, szx: 2 }, Buffer.alloc(64), undefined).kind).toBe('continue');
    expect(a.pending).toBe(1);
    expect(a.bytesHeld).toBe(64);
  });

  it('forgets an upload left idle past the timeout', () => {
    let now = 0;
    const a = new Block1Assembler(limits, () => now);
    a.offer('k', 'dev', { num: 0, more: true, szx: 0 }, Buffer.alloc(16), undefined);
    now = 5000;
    expect(a.offer('k', 'dev', { num: 1, more: false, szx: 0 }, Buffer.alloc(4), undefined).kind).toBe('incomplete');
    expect(a.bytesHeld).toBe(0);
  });

  it('takes a one-block body without holding it', () => {
    const a = new Block1Assembler(limits);
    expect(a.offer('k', 'dev', { num: 0, more: false, szx: 6 }, Buffer.from('{}'), 2)).toEqual({ kind: 'complete', body: Buffer.from('{}') });
    expect(a.pending).toBe(0);
  });
});
