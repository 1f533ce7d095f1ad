import type { TwinStore } from './ports.js';

/** What a device receives as its desired state: the desired properties plus `$version`. */
export type DesiredDocument = Record<string, unknown> & { $version: number };

/**
 * Builds the twin documents devices receive, so that every transport serves the same one
 * (DESIGN §5: CoAP `GET twin/desired` answers what MQTT devices get on `…/twin/desired`).
 */
export class TwinService {
  constructor(private readonly store: TwinStore) {}

  /** A device without a twin row reads as version 0, empty. */
  async desiredDocument(tenantId: string, deviceId: string): Promise<DesiredDocument> {
    const twin = await this.store.getDesired(tenantId, deviceId);
    const version = twin?.version ?? 0;
    // `$version` last as well: a desired property of that name cannot override the real version.
    return Object.assign({ $version: version }, twin?.desired ?? {}, { $version: version });
  }
}
