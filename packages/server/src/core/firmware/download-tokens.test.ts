import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hasCode } from '../../errors.js';
import { DownloadTokens, MAX_DOWNLOAD_TOKEN_LENGTH, type DownloadTarget } from './download-tokens.js';

function tokenOf(url: string): string {
  return new URL(url, 'http://x').searchParams.get('t')!;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (hasCode(err, 'DOWNLOAD_TOKEN_INVALID') || hasCode(err, 'DOWNLOAD_TOKEN_EXPIRED')) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('download tokens', () => {
  let clock = 1_800_000_000_000;
  const key = randomBytes(32);
  const tokens = new DownloadTokens(key, { now: () => clock });
  const image: DownloadTarget = { firmwareId: 'fw_1' };
  const delta: DownloadTarget = { firmwareId: 'fw_1', deltaId: 'fd_1' };

  it('makes image and delta URLs on the device API that verify for their own path, tenant and device', () => {
    const link = tokens.image('acme', 'pump-7', 'fw_1');
    expect(link.url).toMatch(/^\/device\/v1\/firmware\/fw_1\/image\?t=acme~pump-7~[0-9a-z]+~[A-Za-z0-9_-]{22}$/);
    expect(link.expiresAt).toBe(Math.ceil((clock + 3_600_000) / 1000) * 1000);
    expect(tokens.verify(image, tokenOf(link.url))).toEqual({ tenantId: 'acme', deviceId: 'pump-7', firmwareId: 'fw_1', artifactKey: 'firmware/fw_1', expiresAt: link.expiresAt });
    const d = tokens.delta('acme', 'pump-7', 'fw_1', 'fd_1');
    expect(d.url.startsWith('/device/v1/firmware/fw_1/deltas/fd_1?t=')).toBe(true);
    expect(tokens.verify(delta, tokenOf(d.url)).artifactKey).toBe('deltas/fd_1');
  });

  it('refuses an expired token as expired, from the second of its expiry on', () => {
    const short = new DownloadTokens(key, { now: () => clock, ttlMs: 60_000 });
    const link = short.image('acme', 'pump-7', 'fw_1');
    const saved = clock;
    clock = link.expiresAt - 1;
    expect(refusal(() => short.verify(image, tokenOf(link.url)))).toBe('accepted');
    clock = link.expiresAt;
    expect(refusal(() => short.verify(image, tokenOf(link.url)))).toBe('DOWNLOAD_TOKEN_EXPIRED');
    clock = saved;
  });

  it('refuses a tampered token as invalid: device, tenant, expiry or MAC changed', () => {
    const t = tokenOf(tokens.image('acme', 'pump-7', 'fw_1').url);
    const [tenant, device, exp, mac] = t.split('~') as [string, string, string, string];
    const farFuture = (parseInt(exp, 36) + 86_400 * 365).toString(36);
    const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    for (const forged of [`${tenant}~pump-8~${exp}~${mac}`, `other~${device}~${exp}~${mac}`, `${tenant}~${device}~${farFuture}~${mac}`, `${tenant}~${device}~${exp}~${flipped}`]) {
      expect(refusal(() => tokens.verify(image, forged))).toBe('DOWNLOAD_TOKEN_INVALID');
    }
  });

  it('refuses a foreign token: another artifact, another firmware in the path, or another key', () => {
    const imageToken = tokenOf(tokens.image('acme', 'pump-7', 'fw_1').url);
    const deltaToken = tokenOf(tokens.delta('acme', 'pump-7', 'fw_1', 'fd_1').url);
    expect(refusal(() => tokens.verify({ firmwareId: 'fw_2' }, imageToken))).toBe('DOWNLOAD_TOKEN_INVALID');
    expect(refusal(() => tokens.verify(delta, imageToken))).toBe('DOWNLOAD_TOKEN_INVALID');
    expect(refusal(() => tokens.verify(image, deltaToken))).toBe('DOWNLOAD_TOKEN_INVALID');
    expect(refusal(() => tokens.verify({ firmwareId: 'fw_1', deltaId: 'fd_2' }, deltaToken))).toBe('DOWNLOAD_TOKEN_INVALID');
    expect(refusal(() => tokens.verify({ firmwareId: 'fw_9', deltaId: 'fd_1' }, deltaToken))).toBe('DOWNLOAD_TOKEN_INVALID');
    expect(refusal(() => new DownloadTokens(randomBytes(32), { now: () => clock }).verify(image, imageToken))).toBe('DOWNLOAD_TOKEN_INVALID');
  });

  it('refuses missing and malformed tokens as invalid', () => {
    for (const bad of [undefined, '', 'x', 'a~b~c', 'a~b~!!~mac', 'a~b~zz~mac~extra', '~~~', 'a'.repeat(400)]) {
      expect(refusal(() => tokens.verify(image, bad))).toBe('DOWNLOAD_TOKEN_INVALID');
    }
  });

  it('stays within a CoAP Uri-Query option for the longest tenant and device ids', () => {
    const t = tokenOf(tokens.delta('a'.repeat(63), 'd'.repeat(128), 'fw_1', 'fd_1').url);
    expect(`t=${t}`.length).toBeLessThanOrEqual(255);
    expect(t.length).toBeLessThanOrEqual(MAX_DOWNLOAD_TOKEN_LENGTH);
    expect(refusal(() => tokens.verify(delta, t))).toBe('accepted');
  });
});
