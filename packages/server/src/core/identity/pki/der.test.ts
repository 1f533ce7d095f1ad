import { describe, expect, it } from 'vitest';
import {
  children,
  DerError,
  DerSequence,
  encodeBitString,
  encodeLength,
  encodeOid,
  encodeSequence,
  encodeTime,
  encodeTlv,
  encodeUnsignedInteger,
  encodeUtf8String,
  readBitString,
  readOid,
  readString,
  readTime,
  readTlv,
  TAG,
} from './der.js';

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('reading DER', () => {
  it('reads short and long definite lengths, and the children of a SEQUENCE in order', () => {
    const long = new Uint8Array(300).fill(0x41);
    const der = encodeSequence(encodeTlv(TAG.integer, Uint8Array.of(5)), encodeTlv(TAG.octetString, long));
    expect(toHex(der.subarray(0, 4))).toBe('30820133'); // 3 + 4 + 300 = 0x133 content octets
    const outer = readTlv(der, 0);
    expect(outer).toEqual({ tag: TAG.sequence, start: 0, contentStart: 4, end: der.length });
    const [a, b] = children(der, outer);
    expect(a).toEqual({ tag: TAG.integer, start: 4, contentStart: 6, end: 7 });
    expect(b).toMatchObject({ tag: TAG.octetString, contentStart: 11, end: der.length });
  });

  it('reads fixed-order fields with optional ones, and refuses missing or extra fields', () => {
    const der = encodeSequence(encodeTlv(0xa0, encodeTlv(TAG.integer, Uint8Array.of(2))), encodeTlv(TAG.integer, Uint8Array.of(7)));
    const seq = new DerSequence(der, readTlv(der, 0), 'Thing');
    expect(seq.optional(0xa0)).toBeDefined();
    expect(seq.optional(0xa1)).toBeUndefined();
    expect(seq.next(TAG.integer, 'serial')).toEqual({ tag: TAG.integer, start: 7, contentStart: 9, end: 10 });
    expect(seq.done).toBe(true);
    expect(() => seq.next(TAG.sequence, 'name')).toThrow(/Thing: name is missing/);
    const extra = new DerSequence(der, readTlv(der, 0), 'Thing');
    extra.next(undefined, 'first');
    expect(() => extra.end()).toThrow(/unexpected trailing elements/);
    const wrong = new DerSequence(der, readTlv(der, 0), 'Thing');
    expect(() => wrong.next(TAG.sequence, 'first')).toThrow(/Thing\.first: expected tag 0x30, found 0xa0/);
  });

  it.each([
    ['an empty buffer', '', /an element is missing/],
    ['a lone tag', '30', /truncated/],
    ['content shorter than the length', '3005020101', /truncated \(3 of 5 content bytes\)/],
    ['a long length cut short', '3082 01', /truncated/],
    ['an indefinite length (BER, not DER)', '3080 0000', /indefinite length/],
    ['a length of five octets', '3085 0000000001 00', /length too large/],
    ['a multi-octet tag', '1f81 01 00', /multi-octet tag/],
  ])('refuses %s', (_name, input, message) => {
    const der = hex(input);
    expect(() => readTlv(der, 0)).toThrow(DerError);
    expect(() => readTlv(der, 0)).toThrow(message);
  });

  it('refuses a child that runs past its parent, and children of a primitive', () => {
    // SEQUENCE of 3 octets whose INTEGER claims 2 content octets: 1 + 1 + 2 = 4 > 3.
    const der = hex('3003 0202 01');
    expect(() => children(der, readTlv(der, 0, 5))).toThrow(/truncated/);
    expect(() => children(hex('020101'), readTlv(hex('020101'), 0))).toThrow(/not constructed/);
  });

  it('survives random garbage with DerError only', () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) & 0xff;
    for (let round = 0; round < 2000; round++) {
      const bytes = Uint8Array.from({ length: 1 + (round % 40) }, next);
      try {
        const tlv = readTlv(bytes, 0);
        if (tlv.tag & 0x20) children(bytes, tlv);
      } catch (err) {
        expect(err).toBeInstanceOf(DerError);
      }
    }
  });
});

describe('object identifiers', () => {
  it.each([
    ['1.2.840.10045.4.3.2', '06082a8648ce3d040302'], // ecdsa-with-SHA256
    ['2.5.29.35', '0603551d23'], // authorityKeyIdentifier
    ['1.3.101.112', '06032b6570'], // Ed25519
    ['1.3.6.1.5.5.7.3.2', '06082b06010505070302'], // clientAuth
    ['2.999.3', '0603883703'], // first arc 2 with a large second arc (X.690 §8.19.4 example)
  ])('encodes and reads %s', (dotted, encoded) => {
    expect(toHex(encodeOid(dotted))).toBe(encoded);
    const der = hex(encoded);
    expect(readOid(der, readTlv(der, 0))).toBe(dotted);
  });

  it('refuses padded, unterminated and empty identifiers', () => {
    for (const bad of ['0603 2a 80 01', '0602 2a 86', '0600']) {
      const der = hex(bad);
      expect(() => readOid(der, readTlv(der, 0)), bad).toThrow(DerError);
    }
  });
});

describe('values', () => {
  it('encodes lengths minimally', () => {
    expect([0, 127, 128, 255, 256, 65_535, 65_536].map((n) => toHex(encodeLength(n)))).toEqual(['00', '7f', '8180', '81ff', '820100', '82ffff', '83010000']);
  });

  it('encodes non-negative integers with a sign octet only when needed', () => {
    expect(toHex(encodeUnsignedInteger(hex('7f')))).toBe('02017f');
    expect(toHex(encodeUnsignedInteger(hex('80')))).toBe('02020080');
    expect(toHex(encodeUnsignedInteger(hex('000001')))).toBe('020101');
    expect(toHex(encodeUnsignedInteger(hex('0000')))).toBe('020100');
  });

  it('reads BIT STRINGs and refuses a bad unused-bits count', () => {
    const der = encodeBitString(Uint8Array.of(0xa0), 5);
    const bits = readBitString(der, readTlv(der, 0));
    expect([bits.unusedBits, toHex(bits.value)]).toEqual([5, 'a0']);
    for (const bad of ['0302 08 00', '0301 01', '0300']) {
      const b = hex(bad);
      expect(() => readBitString(b, readTlv(b, 0)), bad).toThrow(DerError);
    }
  });

  it('reads UTF8, Printable and BMP strings, and refuses invalid UTF-8', () => {
    const utf8 = encodeUtf8String('Zähler ✓');
    expect(readString(utf8, readTlv(utf8, 0))).toBe('Zähler ✓');
    const printable = encodeTlv(TAG.printableString, Buffer.from('Acme Ltd', 'latin1'));
    expect(readString(printable, readTlv(printable, 0))).toBe('Acme Ltd');
    const bmp = encodeTlv(TAG.bmpString, hex('00 41 00 e4'));
    expect(readString(bmp, readTlv(bmp, 0))).toBe('Aä');
    const broken = encodeTlv(TAG.utf8String, hex('c3 28'));
    expect(() => readString(broken, readTlv(broken, 0))).toThrow(/not valid UTF-8/);
  });

  it('writes UTCTime through 2049 and GeneralizedTime from 2050, and reads both back', () => {
    const cases: Array<[string, string]> = [
      ['2026-03-01T11:55:00Z', '170d3236303330313131353530305a'],
      ['2049-12-31T23:59:59Z', '170d3439313233313233353935395a'],
      ['2050-01-01T00:00:00Z', '180f32303530303130313030303030305a'],
    ];
    for (const [iso, encoded] of cases) {
      const ms = Date.parse(iso);
      expect(toHex(encodeTime(ms)), iso).toBe(encoded);
      const der = hex(encoded);
      expect(readTime(der, readTlv(der, 0))).toBe(ms);
    }
    // UTCTime years 50–99 are 1950–1999 (RFC 5280 §4.1.2.5.1).
    const old = encodeTlv(TAG.utcTime, Buffer.from('991231235959Z', 'latin1'));
    expect(new Date(readTime(old, readTlv(old, 0))).toISOString()).toBe('1999-12-31T23:59:59.000Z');
  });

  it('refuses malformed times', () => {
    for (const text of ['2603011155Z', '260301115500+0100', '261301115500Z', '260230115500Z', '260301245500Z']) {
      const der = encodeTlv(TAG.utcTime, Buffer.from(text, 'latin1'));
      expect(() => readTime(der, readTlv(der, 0)), text).toThrow(/invalid time/);
    }
  });
});
