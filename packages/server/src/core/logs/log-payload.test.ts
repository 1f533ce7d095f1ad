import { describe, expect, it } from 'vitest';
import { isHangarError } from '../../errors.js';
import { DEFAULT_LOG_PAYLOAD_LIMITS, parseLogLevel, parseLogPayload } from './log-payload.js';
import { RecordLimiter } from './record-limiter.js';

const NOW = 1_767_000_000_000;
const parse = (text: string | Buffer, kind: 'json' | 'text' | 'auto' = 'auto', limits = DEFAULT_LOG_PAYLOAD_LIMITS) => parseLogPayload(Buffer.isBuffer(text) ? text : Buffer.from(text), kind, NOW, limits);

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isHangarError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('not refused');
}

describe('log upload parsing', () => {
  it('maps the usual level names to the four levels, and refuses others', () => {
    expect(['TRACE', 'verbose', 'Information', 'notice', 'Warning', 'err', 'FATAL', 'critical', 'panic'].map(parseLogLevel)).toEqual(['debug', 'debug', 'info', 'info', 'warn', 'error', 'error', 'error', 'error']);
    expect(parseLogLevel('loud')).toBeUndefined();
  });

  it('reads text as one info record per non-empty line at the receive time', () => {
    expect(parse('a\r\n\n  \nb\n')).toEqual([
      { ts: NOW, level: 'info', msg: 'a', truncated: false },
      { ts: NOW, level: 'info', msg: 'b', truncated: false },
    ]);
    // Declared text is text even when it looks like JSON; undeclared text that is not JSON stays text.
    expect(parse('{"msg":"x"}', 'text')[0]!.msg).toBe('{"msg":"x"}');
    expect(parse('[not json] but a line')[0]!.msg).toBe('[not json] but a line');
  });

  it('reads JSON records with ISO or epoch times and fields', () => {
    expect(parse(JSON.stringify([{ ts: '2026-01-02T03:04:05.5Z', level: 'warning', msg: 'm', fields: { a: 1 } }, { ts: 7.9, msg: 'n' }]))).toEqual([
      { ts: Date.parse('2026-01-02T03:04:05.5Z'), level: 'warn', msg: 'm', fields: '{"a":1}', truncated: false },
      { ts: 7, level: 'info', msg: 'n', fields: undefined, truncated: false },
    ]);
  });

  it('cuts an overlong line at a character boundary and marks it truncated', () => {
    const limits = { ...DEFAULT_LOG_PAYLOAD_LIMITS, maxLineBytes: 10 };
    const [r] = parse('ab€€€€', 'text', limits); // 2 + 4 × 3 bytes
    expect(r).toMatchObject({ msg: 'ab€€', truncated: true });
    expect(parse('exactly10!', 'text', limits)[0]).toMatchObject({ msg: 'exactly10!', truncated: false });
  });

  it('refuses binary data, bad records and oversized uploads, saying what is wrong', () => {
    expect(refusal(() => parse(Buffer.from([0x61, 0xc3])))).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/not valid UTF-8/) });
    expect(refusal(() => parse('nul\u0000byte'))).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/control character \(code 0\)/) });
    expect(refusal(() => parse('{"msg":', 'json'))).toMatchObject({ code: 'INVALID_JSON' });
    expect(refusal(() => parse('[1]'))).toMatchObject({ message: expect.stringMatching(/record 0 must be a JSON object/) });
    expect(refusal(() => parse('{"level":"info"}'))).toMatchObject({ message: expect.stringMatching(/needs "msg"/) });
    expect(refusal(() => parse('{"msg":"x","ts":1e20}'))).toMatchObject({ message: expect.stringMatching(/not a time/) });
    expect(refusal(() => parse('{"msg":"x","fields":[1]}'))).toMatchObject({ message: expect.stringMatching(/fields is a JSON object/) });
    expect(refusal(() => parse(JSON.stringify({ msg: 'x', fields: { big: 'x'.repeat(5000) } })))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const small = { ...DEFAULT_LOG_PAYLOAD_LIMITS, maxBatchRecords: 2, maxBatchBytes: 20 };
    expect(refusal(() => parse('a\nb\nc', 'text', small))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/more than 2 records/) });
    expect(refusal(() => parse('x'.repeat(21), 'text', small))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/at most 20 bytes/) });
    expect(refusal(() => parse('  \n'))).toMatchObject({ message: expect.stringMatching(/no record/) });
  });
});

describe('the per-device record limiter', () => {
  it('grants an upload whole or not at all, and keeps devices apart', () => {
    let now = 0;
    const limiter = new RecordLimiter({ perSecond: 10, burst: 20 }, () => now);
    expect(limiter.take('a', 15)).toBe(0);
    expect(limiter.take('a', 10)).toBe(500); // 5 left, 5 more take half a second
    expect(limiter.take('a', 5)).toBe(0); // the refused upload took nothing
    expect(limiter.take('b', 20)).toBe(0);
    now += 1000;
    expect(limiter.take('a', 10)).toBe(0);
  });
});
