import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startListeningHangar, type ListeningHangar } from '../api/events-fixture.js';
import { RawPeer } from '../transports/coap/coap-fixture.js';
import { CoapCode, CoapOptionNumber, decodeUint, firstOption } from '@hangar/protocol/coap';

/**
 * A rate-limited device learns the real wait on HTTP and CoAP alike: one typed field of the
 * catalog (`retryAfterMs`) read by every wire. One message per 10 s with no burst: the second
 * message, sent at once, must wait about 10 s.
 */
describe('rate-limited devices are told the real wait', () => {
  let t: ListeningHangar;
  let coapPort: number;

  beforeAll(async () => {
    t = await startListeningHangar('sqlite', { telemetry: { rateLimit: { perSecond: 0.1, burst: 1 } } });
    coapPort = await t.hangar.coapListeners.plain.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await t?.close();
  });

  async function device(id: string): Promise<string> {
    expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
    const cred = await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } });
    return cred.body.token as string;
  }

  it('answers a rate-limited HTTP device 429 with Retry-After in seconds', async () => {
    const token = await device('rl-http');
    const send = (): Promise<Response> => fetch(`${t.base}/device/v1/telemetry`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"temp":1}' });
    expect((await send()).status).toBe(200);
    const limited = await send();
    expect(limited.status).toBe(429);
    const seconds = Number(limited.headers.get('retry-after'));
    expect(seconds).toBeGreaterThanOrEqual(9);
    expect(seconds).toBeLessThanOrEqual(10);
    const body = (await limited.json()) as { code: string; retryAfterMs: number };
    expect(body.code).toBe('RATE_LIMITED');
    expect(body.retryAfterMs).toBeGreaterThan(8_000);
  });

  it('answers a rate-limited CoAP device 4.29 with Max-Age in seconds', async () => {
    const token = await device('rl-coap');
    const peer = await RawPeer.open(coapPort);
    try {
      const post = async (messageId: number): Promise<{ code: number; maxAge: number | undefined }> => {
        const tok = Buffer.from([messageId & 0xff, messageId >> 8]);
        peer.send({
          code: CoapCode.POST,
          messageId,
          token: tok,
          options: [
            { number: CoapOptionNumber.UriPath, value: Buffer.from('device') },
            { number: CoapOptionNumber.UriPath, value: Buffer.from('v1') },
            { number: CoapOptionNumber.UriPath, value: Buffer.from('telemetry') },
            { number: CoapOptionNumber.UriQuery, value: Buffer.from('device=rl-coap') },
            { number: CoapOptionNumber.UriQuery, value: Buffer.from(`token=${token}`) },
          ],
          payload: Buffer.from('{"temp":1}'),
        });
        const answer = await peer.next((m) => m.token.equals(tok) && m.code !== CoapCode.Empty);
        const maxAge = firstOption(answer, CoapOptionNumber.MaxAge);
        return { code: answer.code, maxAge: maxAge === undefined ? undefined : decodeUint(maxAge) };
      };
      expect((await post(0x101)).code).toBe(CoapCode.Changed);
      const limited = await post(0x102);
      expect(limited.code).toBe(CoapCode.TooManyRequests);
      expect(limited.maxAge).toBeGreaterThanOrEqual(9);
      expect(limited.maxAge).toBeLessThanOrEqual(10);
    } finally {
      await peer.close();
    }
  });
});
