import { describe, expect, it } from 'vitest';
import { parseLinkFormat, parseRegistrationLinks } from '../link-format.js';
import { builtinObjectRegistry } from '../object-registry.js';
import { parsePath } from '../path.js';
import { Lwm2mCodecError, Lwm2mContentFormat, type Lwm2mValue } from '../types.js';
import { decodeCompositePaths, decodeContent, encodeCompositePaths, encodeContent } from './content.js';

const registry = builtinObjectRegistry();

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(input: Buffer, next: () => number): Buffer {
  const bytes = Buffer.from(input);
  const pick = (n: number): number => Math.floor(next() * n);
  switch (pick(4)) {
    case 0:
      for (let i = 0; i < 1 + pick(4); i++) bytes[pick(bytes.length)] = pick(256);
      return bytes;
    case 1:
      return bytes.subarray(0, pick(bytes.length));
    case 2: {
      const at = pick(bytes.length);
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([pick(256), pick(256)]), bytes.subarray(at)]);
    }
    default: {
      const at = pick(bytes.length);
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + pick(4))]);
    }
  }
}

const DEVICE: Lwm2mValue[] = [
  { path: parsePath('/3/0/0'), type: 'String', value: 'Open Mobile Alliance' },
  { path: parsePath('/3/0/6/0'), type: 'Integer', value: 1 },
  { path: parsePath('/3/0/6/1'), type: 'Integer', value: 5 },
  { path: parsePath('/3/0/9'), type: 'Integer', value: 100 },
  { path: parsePath('/3/0/13'), type: 'Time', value: 1367491215, time: 1_700_000_000 },
  { path: parsePath('/3/0/16'), type: 'String', value: 'U' },
];

describe('mutated payloads', () => {
  it.each([
    ['TLV', Lwm2mContentFormat.tlv],
    ['SenML JSON', Lwm2mContentFormat.senmlJson],
    ['SenML CBOR', Lwm2mContentFormat.senmlCbor],
    ['LwM2M JSON', Lwm2mContentFormat.lwm2mJson],
  ])('%s: every mutation decodes or is refused with a Lwm2mCodecError', (_name, format) => {
    const path = parsePath('/3/0');
    const original = encodeContent(format, DEVICE, path, registry);
    const next = random(format);
    for (let i = 0; i < 3000; i++) {
      const payload = mutate(original, next);
      try {
        const values = decodeContent(format, payload, path, registry);
        expect(Array.isArray(values)).toBe(true);
      } catch (error) {
        if (!(error instanceof Lwm2mCodecError)) throw new Error(`payload ${payload.toString('hex')} threw ${String(error)}`, { cause: error });
      }
    }
  });

  it('link format and composite paths: every mutation parses or is refused with a Lwm2mCodecError', () => {
    const links = Buffer.from('</>;rt="oma.lwm2m";ct=110,</1/0>,</3>;ver=1.1,</3/0>;pmin=10;gt=2.5,</3303/0>');
    const composite = encodeCompositePaths(Lwm2mContentFormat.senmlCbor, [parsePath('/3/0/9'), parsePath('/3303'), parsePath('/1/0')]);
    const next = random(7);
    for (let i = 0; i < 3000; i++) {
      for (const run of [
        () => parseRegistrationLinks(mutate(links, next).toString('latin1')),
        () => parseLinkFormat(mutate(links, next).toString('latin1')),
        () => decodeCompositePaths(Lwm2mContentFormat.senmlCbor, mutate(composite, next)),
      ]) {
        try {
          run();
        } catch (error) {
          if (!(error instanceof Lwm2mCodecError)) throw new Error(`threw ${String(error)}`, { cause: error });
        }
      }
    }
  });
});
