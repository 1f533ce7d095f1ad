import { describe, expect, it } from 'vitest';
import { builtinObjectRegistry, ObjectRegistry } from './object-registry.js';
import { telemetryKeyOf } from './telemetry-key.js';
import { parsePath } from './path.js';

describe('the built-in object registry', () => {
  const registry = builtinObjectRegistry();

  it('has OMA objects 0–7 and the common IPSO objects', () => {
    const ids = new Set(registry.list().map((m) => m.id));
    for (const id of [0, 1, 2, 3, 4, 5, 6, 7, 3200, 3201, 3202, 3203, 3300, 3301, 3303, 3304, 3311, 3313, 3315, 3323, 3328]) expect(ids).toContain(id);
  });

  it('describes IPSO resources as the OMA registry does', () => {
    expect(registry.resource(3303, 5700)).toMatchObject({ name: 'Sensor Value', operations: 'R', type: 'Float', mandatory: true, multiple: false });
    expect(registry.resource(3303, 5701)).toMatchObject({ name: 'Sensor Units', operations: 'R', type: 'String' });
    expect(registry.resource(3303, 5601)).toMatchObject({ name: 'Min Measured Value', type: 'Float' });
    expect(registry.resource(3303, 5602)).toMatchObject({ name: 'Max Measured Value', type: 'Float' });
    expect(registry.resource(3303, 5605)).toMatchObject({ name: 'Reset Min and Max Measured Values', operations: 'E', type: 'none' });
    expect(registry.resource(3303, 5750)).toMatchObject({ name: 'Application Type', operations: 'RW', type: 'String' });
    expect(registry.resource(3311, 5850)).toMatchObject({ name: 'On/Off', operations: 'RW', type: 'Boolean' });
  });

  it('describes the OMA objects', () => {
    expect(registry.get(3)).toMatchObject({ name: 'Device', multiple: false, mandatory: true });
    expect(registry.resource(3, 4)).toMatchObject({ name: 'Reboot', operations: 'E' });
    expect(registry.resource(3, 7)).toMatchObject({ name: 'Power Source Voltage', multiple: true, type: 'Integer' });
    expect(registry.resource(3, 13)).toMatchObject({ type: 'Time', operations: 'RW' });
    expect(registry.resource(5, 0)).toMatchObject({ name: 'Package', operations: 'W', type: 'Opaque' });
    expect(registry.resource(5, 3)).toMatchObject({ name: 'State', type: 'Integer' });
    expect(registry.resource(1, 1)).toMatchObject({ name: 'Lifetime', operations: 'RW' });
    expect(registry.resource(0, 0)).toMatchObject({ operations: '', type: 'String' });
  });

  it('serves a known version, and the preferred model for any other', () => {
    expect(registry.get(3, '1.1')?.version).toBe('1.1');
    expect(registry.get(3, '1.0')?.version).toBe(registry.get(3)?.version);
    expect(registry.get(42_424)).toBeUndefined();
  });

  it('takes uploaded models, which replace the same version and become preferred', () => {
    const own = new ObjectRegistry();
    own.add({ id: 30_000, name: 'A', version: '1.0', multiple: true, mandatory: false, resources: [{ id: 1, name: 'x', operations: 'R', multiple: false, mandatory: true, type: 'Integer' }] });
    own.add({ id: 30_000, name: 'B', version: '2.0', multiple: true, mandatory: false, resources: [{ id: 1, name: 'x', operations: 'R', multiple: false, mandatory: true, type: 'Float' }] });
    expect(own.get(30_000)?.name).toBe('B');
    expect(own.get(30_000, '1.0')?.name).toBe('A');
    expect(own.resource(30_000, 1)?.type).toBe('Float');
    expect(own.list().map((m) => m.version)).toEqual(['1.0', '2.0']);
    expect(builtinObjectRegistry().get(30_000)).toBeUndefined();
  });
});

describe('telemetry keys', () => {
  const registry = builtinObjectRegistry();
  it.each([
    ['/3303/0/5700', 'temperature'],
    ['/3303/1/5700', 'temperature_1'],
    ['/3304/0/5700', 'humidity'],
    ['/3315/0/5700', 'pressure'],
    ['/3328/0/5700', 'power'],
    ['/3/0/9', 'battery'],
    ['/6/0/0', 'latitude'],
    ['/3303/0/5701', undefined],
    ['/3/0/0', undefined],
    ['/3303/0', undefined],
    ['/9999/0/5700', undefined],
  ])('%s → %s', (path, key) => {
    expect(telemetryKeyOf(parsePath(path), registry)).toBe(key);
  });
});
