/**
 * Keeps `npm run bench -- lwm2m` from rotting: the whole benchmark with 20 CoAP and 10 DTLS
 * devices on SQLite, and its libcoap reference. It checks that every phase ran to its end and
 * printed its figures, never how fast.
 */
import { describe, expect, it } from 'vitest';
import { lwm2mBench } from '../bench/lwm2m/lwm2m-bench.js';

describe('LwM2M benchmark (smoke, 20 + 10 devices)', () => {
  it('registers over CoAP, stores observed temperatures, registers over DTLS PSK and measures the libcoap reference', async () => {
    const result = await lwm2mBench({ stores: ['sqlite'], scale: 1 }, { devices: 20, dtlsDevices: 10, concurrency: 8, readingIntervalMs: 200, observeWindowSec: 2, drainTimeoutSec: 30 });
    const byName = (start: string): string => {
      const figure = result.figures.find((f) => f.name.startsWith(start));
      if (!figure) throw new Error(`no figure "${start}…" in ${JSON.stringify(result.figures.map((f) => f.name))}`);
      return figure.result;
    };
    expect(result.figures.map((f) => f.store)).toEqual(['sqlite', 'sqlite', 'sqlite', '—', 'sqlite', 'sqlite']);
    expect(byName('Reference: 10 full DTLS PSK handshakes')).toMatch(/handshakes\/s/);
    expect(byName('Reference: 10 full DTLS PSK handshakes')).not.toMatch(/failed/);
    expect(byName('Register 20 LwM2M devices over plain CoAP')).toMatch(/registrations\/s · server CPU [\d.]+ ms .* · 20 registrations in the store/);
    expect(byName('Register 20 LwM2M devices over plain CoAP')).not.toMatch(/failed/);
    expect(byName('Observe 3303/0/5700 on 20 devices')).toMatch(/^[\d,]+ notifications stored\/s/);
    expect(byName('Observe 3303/0/5700 on 20 devices')).not.toMatch(/^0 notifications stored/);
    expect(byName('DTLS PSK: 10 full handshakes + GET')).toMatch(/^[\d,]+ handshakes\/s/);
    expect(byName('DTLS PSK: 10 full handshakes + GET')).not.toMatch(/failed/);
    expect(byName('DTLS PSK: full handshake + Register, 10 devices')).toMatch(/· 10 registrations in the store/);
    expect(byName('DTLS PSK: full handshake + Register, 10 devices')).not.toMatch(/failed/);
    expect(result.figures.at(-1)!.reference).toMatch(/× libcoap's handshakes\/s/);
  }, 180_000);
});
