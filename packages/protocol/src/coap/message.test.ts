import { describe, expect, it } from 'vitest';
import { decodeBlock, encodeBlock } from './block-option.js';
import { CoapCode, CoapFormatError, CoapOptionNumber, codeText, decodeUint, encodeMessage, encodeUint, parseMessage, type CoapMessage } from './message.js';

function message(overrides: Partial<CoapMessage> = {}): CoapMessage {
  return { type: 'CON', code: CoapCode.GET, messageId: 0x1234, token: Buffer.from([1, 2]), options: [], payload: Buffer.alloc(0), ...overrides };
}

describe('CoAP message codec (RFC 7252 §3)', () => {
  it('encodes the header, token, options and payload marker byte for byte', () => {
    const bytes = encodeMessage(message({ options: [{ number: CoapOptionNumber.UriPath, value: Buffer.from('a') }], payload: Buffer.from('x') }));
    // ver 1, CON, TKL 2 | GET | mid | token | delta 11 len 1 'a' | 0xff 'x'
    expect(bytes.toString('hex')).toBe('42011234' + '0102' + 'b161' + 'ff78');
  });

  it.each([
    ['a small delta', 11, 1],
    ['a one-byte extended delta', 60, 5],
    ['a two-byte extended delta', 292, 4],
    ['a two-byte extended length', 12, 300],
    ['a one-byte extended length', 15, 20],
  ])('round-trips an option with %s', (_what, number, length) => {
    const original = message({ options: [{ number, value: Buffer.alloc(length, 7) }] });
    const parsed = parseMessage(encodeMessage(original));
    expect(parsed.options).toEqual([{ number, value: Buffer.alloc(length, 7) }]);
  });

  it('sorts options by number and keeps repeated options in order', () => {
    const original = message({
      options: [
        { number: CoapOptionNumber.UriQuery, value: Buffer.from('b=2') },
        { number: CoapOptionNumber.UriPath, value: Buffer.from('x') },
        { number: CoapOptionNumber.UriQuery, value: Buffer.from('a=1') },
        { number: CoapOptionNumber.UriPath, value: Buffer.from('y') },
      ],
    });
    const parsed = parseMessage(encodeMessage(original));
    expect(parsed.options.map((o) => `${o.number}:${o.value.toString()}`)).toEqual(['11:x', '11:y', '15:b=2', '15:a=1']);
  });

  it('round-trips every message type, an 8-byte token and a payload', () => {
    for (const type of ['CON', 'NON', 'ACK', 'RST'] as const) {
      const original = message({ type, code: CoapCode.Content, token: Buffer.from('0123456789abcdef', 'hex'), payload: Buffer.from('{"a":1}') });
      expect(parseMessage(encodeMessage(original))).toEqual(original);
    }
  });

  it.each([
    ['an empty datagram', '', undefined],
    ['a truncated header', '4001', undefined],
    ['another CoAP version', '80011234', undefined],
    ['a reserved token length', '49011234', 0x1234],
    ['a truncated token', '42011234ab', 0x1234],
    ['an Empty message with a token', '41001234ab', 0x1234],
    ['a payload marker without payload', '40011234ff', 0x1234],
    ['the reserved option nibble 15', '40011234f0', 0x1234],
    ['a truncated extended delta', '40011234d0', 0x1234],
    ['a truncated option value', '40011234b5616263', 0x1234],
    ['a reserved code class', '40201234', 0x1234],
  ])('refuses %s with a format error', (_what, hex, messageId) => {
    let error: unknown;
    try {
      parseMessage(Buffer.from(hex, 'hex'));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CoapFormatError);
    expect((error as CoapFormatError).messageId).toBe(messageId);
  });

  it('encodes uints in the fewest bytes, zero as nothing', () => {
    expect(encodeUint(0)).toEqual(Buffer.alloc(0));
    expect(encodeUint(255)).toEqual(Buffer.from([255]));
    expect(encodeUint(256)).toEqual(Buffer.from([1, 0]));
    expect(decodeUint(encodeUint(0xffffff))).toBe(0xffffff);
    expect(() => encodeUint(-1)).toThrow(RangeError);
  });

  it('writes codes as class.detail', () => {
    expect(codeText(CoapCode.Content)).toBe('2.05');
    expect(codeText(CoapCode.Continue)).toBe('2.31');
    expect(codeText(CoapCode.TooManyRequests)).toBe('4.29');
  });
});

describe('Block option values (RFC 7959 §2.2)', () => {
  it.each([
    [{ num: 0, more: true, szx: 2 }, '0a'],
    [{ num: 1, more: false, szx: 6 }, '16'],
    [{ num: 0, more: false, szx: 0 }, ''],
    [{ num: 4095, more: true, szx: 6 }, 'fffe'],
    [{ num: 4096, more: false, szx: 4 }, '010004'],
  ])('encodes %o as %s and back', (block, hex) => {
    expect(encodeBlock(block).toString('hex')).toBe(hex);
    expect(decodeBlock(encodeBlock(block))).toEqual(block);
  });

  it('refuses a value longer than three bytes', () => {
    expect(decodeBlock(Buffer.alloc(4))).toBeUndefined();
  });
});
