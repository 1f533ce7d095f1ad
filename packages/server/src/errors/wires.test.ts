import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, HangarError, type ErrorCode } from '../errors.js';
import { COAP_CODE, coapAnswerOf } from './coap-wire.js';
import { HTTP_STATUS, httpAnswerOf } from './http-wire.js';
import { MQTT_REFUSAL, PUBACK_REASONS, mqttRefusalOf } from './mqtt-wire.js';

const CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

describe('the error catalog maps every code on every wire', () => {
  it('has an HTTP, an MQTT and a CoAP answer for each code, and nothing else', () => {
    // Each table is keyed by code: a code added to the catalog without its answers fails here.
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...CODES].sort());
    expect(Object.keys(MQTT_REFUSAL).sort()).toEqual([...CODES].sort());
    expect(Object.keys(COAP_CODE).sort()).toEqual([...CODES].sort());
  });

  it.each(CODES)('%s answers in the same class on HTTP and CoAP, with a PUBACK-legal MQTT reason', (code) => {
    const http = HTTP_STATUS[code];
    expect(http).toBeGreaterThanOrEqual(400);
    expect(http).toBeLessThan(600);
    // RFC 7252 §12.1.2: class 4 and 5 are client and server errors, as HTTP's 4xx and 5xx.
    expect(COAP_CODE[code] >> 5).toBe(Math.floor(http / 100));
    expect(Object.values(PUBACK_REASONS)).toContain(MQTT_REFUSAL[code].reason);
    expect(MQTT_REFUSAL[code].v311).toBe('close');
    const err = new HangarError(code, 'x');
    expect(httpAnswerOf(err).status).toBe(http);
    expect(coapAnswerOf(err, { maxBodyBytes: 1024 })?.code).toBe(COAP_CODE[code]);
    expect(mqttRefusalOf(err)).toBe(MQTT_REFUSAL[code]);
  });

  it('tells a rate-limited caller the real wait on every wire, in whole seconds rounded up', () => {
    const err = new HangarError('RATE_LIMITED', 'slow down', { retryAfterMs: 4_001 });
    expect(httpAnswerOf(err)).toEqual({ status: 429, headers: { 'retry-after': '5' } });
    expect(coapAnswerOf(err, { maxBodyBytes: 1024 })).toEqual({ code: 0x9d, maxAgeSeconds: 5 });
    // Without a known wait: no Retry-After; CoAP says its default (RFC 7252 §5.10.5) explicitly.
    const unknown = new HangarError('RATE_LIMITED', 'slow down');
    expect(httpAnswerOf(unknown).headers).toEqual({});
    expect(coapAnswerOf(unknown, { maxBodyBytes: 1024 })?.maxAgeSeconds).toBe(60);
  });

  it('tells a client asking past the end of an artifact how large it is (RFC 9110 §15.5.17)', () => {
    expect(httpAnswerOf(new HangarError('RANGE_NOT_SATISFIABLE', 'past the end', { size: 1234 }))).toEqual({ status: 416, headers: { 'content-range': 'bytes */1234' } });
  });

  it('answers anything that is not a HangarError as unspecified or not at all', () => {
    expect(mqttRefusalOf(new Error('boom')).reason).toBe(0x80);
    expect(coapAnswerOf(new Error('boom'), { maxBodyBytes: 1 })).toBeUndefined();
  });
});
