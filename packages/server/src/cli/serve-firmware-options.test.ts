import { describe, expect, it } from 'vitest';
import { OptionError, resolveServeOptions } from './serve-options.js';

describe('serve options of the firmware registry', () => {
  const PG = 'postgres://u@h/db';

  it('defaults to the file artifact store in the data dir and the 2 GiB limit', () => {
    const o = resolveServeOptions({}, {});
    expect(o.artifactStore).toBeUndefined();
    expect(o.artifactDir).toBeUndefined();
    expect(o.firmwareMaxBytes).toBeUndefined();
  });

  it('takes --artifact-store, --artifact-dir and --firmware-max-bytes from flags or HANGAR_* variables', () => {
    expect(resolveServeOptions({ artifactStore: 'postgres', databaseUrl: PG }, {}).artifactStore).toBe('postgres');
    expect(resolveServeOptions({}, { HANGAR_ARTIFACT_STORE: 'file', HANGAR_ARTIFACT_DIR: '/mnt/shared' })).toMatchObject({ artifactStore: 'file', artifactDir: '/mnt/shared' });
    expect(resolveServeOptions({ firmwareMaxBytes: '1048576' }, {}).firmwareMaxBytes).toBe(1048576);
    expect(resolveServeOptions({}, { HANGAR_FIRMWARE_MAX_BYTES: '4096' }).firmwareMaxBytes).toBe(4096);
  });

  it('refuses combinations and values that cannot work, naming the flag', () => {
    expect(() => resolveServeOptions({ artifactStore: 'postgres' }, {})).toThrow(/--artifact-store=postgres .* needs --database-url/);
    expect(() => resolveServeOptions({ artifactStore: 's3' }, {})).toThrow(OptionError);
    expect(() => resolveServeOptions({ artifactStore: 'postgres', databaseUrl: PG, artifactDir: '/x' }, {})).toThrow(/--artifact-dir/);
    expect(() => resolveServeOptions({ firmwareMaxBytes: '0' }, {})).toThrow(/--firmware-max-bytes/);
    expect(() => resolveServeOptions({}, { HANGAR_FIRMWARE_MAX_BYTES: '2GB' })).toThrow(/HANGAR_FIRMWARE_MAX_BYTES/);
  });
});
