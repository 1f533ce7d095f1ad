import { describe, expect, it } from 'vitest';
import { finishedVerifyData, prf, pskPremaster } from './prf.js';

describe('TLS 1.2 PRF (SHA-256)', () => {
  it('matches the published P_SHA256 test vector', () => {
    // The widely used TLS 1.2 PRF test vector (IETF TLS WG mailing list, SHA-256).
    const out = prf(Buffer.from('9bbe436ba940f017b17652849a71db35', 'hex'), 'test label', Buffer.from('a0ba9f936cda311827a6f796ffd5198c', 'hex'), 100);
    expect(out.toString('hex')).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  it('builds the RFC 4279 PSK premaster secret', () => {
    expect(pskPremaster(Buffer.from([0xaa, 0xbb])).toString('hex')).toBe('000200000002aabb');
  });

  it('gives 12-byte Finished values that differ by sender', () => {
    const master = Buffer.alloc(48, 1);
    const hash = Buffer.alloc(32, 2);
    expect(finishedVerifyData(master, 'client', hash)).toHaveLength(12);
    expect(finishedVerifyData(master, 'client', hash)).not.toEqual(finishedVerifyData(master, 'server', hash));
  });
});
