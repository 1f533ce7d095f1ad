import { describe, expect, it } from 'vitest';
import { OptionError, resolveServeOptions } from './serve-options.js';

describe('serve options for /metrics', () => {
  it('keeps /metrics behind a token unless --metrics-public or HANGAR_METRICS_PUBLIC says otherwise', () => {
    expect(resolveServeOptions({}, {}).metricsPublic).toBe(false);
    expect(resolveServeOptions({ metricsPublic: true }, {}).metricsPublic).toBe(true);
    expect(resolveServeOptions({}, { HANGAR_METRICS_PUBLIC: 'true' }).metricsPublic).toBe(true);
    expect(resolveServeOptions({}, { HANGAR_METRICS_PUBLIC: '0' }).metricsPublic).toBe(false);
    expect(() => resolveServeOptions({}, { HANGAR_METRICS_PUBLIC: 'maybe' })).toThrow(OptionError);
  });

  it('takes a scrape token from the flag or HANGAR_METRICS_TOKEN, and refuses a short one', () => {
    expect(resolveServeOptions({ metricsToken: 'a-long-scrape-token-1' }, {}).metricsToken).toBe('a-long-scrape-token-1');
    expect(resolveServeOptions({}, { HANGAR_METRICS_TOKEN: 'env-scrape-token-123' }).metricsToken).toBe('env-scrape-token-123');
    expect(() => resolveServeOptions({ metricsToken: 'short' }, {})).toThrow(/at least 16/);
  });
});
