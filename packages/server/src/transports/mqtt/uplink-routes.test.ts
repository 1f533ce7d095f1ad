import { describe, expect, it } from 'vitest';
import { routePublish } from './topic-acl.js';
import { findUplinkRoute, UPLINK_ROUTES } from './uplink-routes.js';

describe('the uplink routing table', () => {
  it.each(UPLINK_ROUTES.map(([suffix, route]) => [suffix, route] as const))('routes devices/{id}/%s through its entry', (suffix, route) => {
    const concrete = suffix.replace('+', 'c-42');
    expect(findUplinkRoute(concrete)).toBe(route);
    const published = routePublish('d1', `devices/d1/${concrete}`, 'device');
    if (route.kind === 'port') expect(published).toEqual({ kind: 'uplink', subtopic: concrete, port: route.port });
    else expect(published.kind).toBe('telemetry');
  });

  it.each(['commands//result', 'commands/c-1/result/x', 'commands/c-1', 'twin', 'twin/desired', 'telemetry/', 'ota', ''])('has no entry for %j', (suffix) => {
    expect(findUplinkRoute(suffix)).toBeUndefined();
  });

  it('serves ota/status only when the gateway has the OTA port', () => {
    const route = findUplinkRoute('ota/status');
    if (route?.kind !== 'port') throw new Error('ota/status is a port');
    expect(route.port.served({ services: {} })).toBe(false);
    expect(route.port.served({ services: { ota: { reportStatus: async () => undefined } } })).toBe(true);
  });

  it('serves twin/reported when the gateway has the twin service', () => {
    const route = findUplinkRoute('twin/reported');
    if (route?.kind !== 'port') throw new Error('twin/reported is a port');
    const twin = { patchReported: async () => ({ $version: 1 }) };
    expect(route.port.served({ services: {} })).toBe(false);
    expect(route.port.served({ services: { twin } })).toBe(true);
  });
});
