import { describe, expect, it } from 'vitest';
import { chooseDelivery, failureOfUpdateResult } from './firmware-update-mapping.js';

describe('Object 5 Update Result on OTA failures', () => {
  it.each([
    [0, undefined],
    [1, undefined],
    [2, 'download'],
    [3, 'download'],
    [4, 'download'],
    [5, 'verify'],
    [6, 'incompatible'],
    [7, 'download'],
    [8, 'install'],
    [9, 'download'],
    [42, 'other'],
  ])('Update Result %i → %s', (result, reason) => {
    const f = failureOfUpdateResult(result);
    expect(f?.reason).toBe(reason);
    if (f) expect(f.error).toContain(`Update Result ${result}`);
  });
});

describe('pull or push', () => {
  const COAP = 'coap://h:5683/device/v1/firmware/fw/image?t=x';
  const COAPS = 'coaps://h:5684/device/v1/firmware/fw/image?t=x';
  const HTTP = 'http://h:8080/device/v1/firmware/fw/image?t=x';
  it.each([
    ['a device that says nothing pulls a configured URI', { delivery: undefined, protocols: undefined }, COAP, 'auto', 'pull'],
    ['no URI configured: push', { delivery: undefined, protocols: undefined }, undefined, 'auto', 'push'],
    ['push-only device (5/0/9 = 1)', { delivery: 1, protocols: undefined }, COAP, 'auto', 'push'],
    ['pull and push (2) pulls', { delivery: 2, protocols: [0, 1] }, COAPS, 'auto', 'pull'],
    ['a device without coaps in 5/0/8 is pushed to', { delivery: 2, protocols: [0] }, COAPS, 'auto', 'push'],
    ['HTTP pull when 5/0/8 lists HTTP', { delivery: 0, protocols: [2] }, HTTP, 'auto', 'pull'],
    ['pull-only device without the scheme: nothing works', { delivery: 0, protocols: [2] }, COAP, 'auto', 'none'],
    ['pull-only device, no URI: nothing works', { delivery: 0, protocols: undefined }, undefined, 'auto', 'none'],
    ['installation prefers push', { delivery: 2, protocols: [0] }, COAP, 'push', 'push'],
    ['installation prefers push, device only pulls', { delivery: 0, protocols: [0] }, COAP, 'push', 'pull'],
    ['installation pulls only, push-only device: nothing works', { delivery: 1, protocols: undefined }, COAP, 'pull', 'none'],
    ['installation pulls only', { delivery: 2, protocols: undefined }, COAP, 'pull', 'pull'],
  ] as const)('%s', (_name, caps, uri, prefer, method) => {
    const choice = chooseDelivery({ delivery: caps.delivery, protocols: caps.protocols ? [...caps.protocols] : undefined }, uri, prefer);
    expect(choice.method).toBe(method);
    if (choice.method === 'pull') expect(choice.uri).toBe(uri);
    if (choice.method === 'none') expect(choice.why).toMatch(/pull/);
  });
});
