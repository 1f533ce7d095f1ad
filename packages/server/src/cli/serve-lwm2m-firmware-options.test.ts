import { describe, expect, it } from 'vitest';
import { resolveServeOptions } from './serve-options.js';

describe('serve options of LwM2M firmware delivery', () => {
  it('are unset by default (Hangar pushes) and come from flags or HANGAR_* variables', () => {
    expect(resolveServeOptions({}, {})).toMatchObject({ lwm2mFirmwareHost: undefined, lwm2mFirmwareUrl: undefined, lwm2mFirmwareDelivery: undefined });
    expect(resolveServeOptions({ lwm2mFirmwareHost: 'hangar.example.com', lwm2mFirmwareDelivery: 'pull' }, {})).toMatchObject({ lwm2mFirmwareHost: 'hangar.example.com', lwm2mFirmwareDelivery: 'pull' });
    expect(resolveServeOptions({}, { HANGAR_LWM2M_FIRMWARE_HOST: '2001:db8::1', HANGAR_LWM2M_FIRMWARE_URL: 'https://fw.example.com' })).toMatchObject({ lwm2mFirmwareHost: '2001:db8::1', lwm2mFirmwareUrl: 'https://fw.example.com' });
  });

  it('refuses a host with a scheme or path, a URL with a path or another scheme, and an unknown delivery, naming the flag', () => {
    expect(() => resolveServeOptions({ lwm2mFirmwareHost: 'coap://h' }, {})).toThrow(/--lwm2m-firmware-host/);
    expect(() => resolveServeOptions({ lwm2mFirmwareHost: 'h/x' }, {})).toThrow(/--lwm2m-firmware-host/);
    expect(() => resolveServeOptions({ lwm2mFirmwareUrl: 'ftp://h' }, {})).toThrow(/--lwm2m-firmware-url/);
    expect(() => resolveServeOptions({ lwm2mFirmwareUrl: 'https://h/device/v1' }, {})).toThrow(/--lwm2m-firmware-url/);
    expect(() => resolveServeOptions({ lwm2mFirmwareDelivery: 'sms' }, {})).toThrow(/--lwm2m-firmware-delivery/);
  });
});
