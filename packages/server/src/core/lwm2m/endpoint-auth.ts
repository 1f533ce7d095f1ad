import { HangarError } from '../../errors.js';
import type { DeviceIdentity } from '../identity/device-authenticator.js';
import type { Stores } from '../stores.js';

/** The credential id a registration over plain CoAP carries: no credential was presented. */
export const NOSEC_CREDENTIAL = 'lwm2m:nosec';

/** Credential types that mean "this device has security information": it must use DTLS. */
const SECURE_TYPES: ReadonlySet<string> = new Set(['psk', 'x509']);

/**
 * Who may speak LwM2M as an endpoint (docs/lwm2m.md, "Registration rule"). Over DTLS the session
 * authenticated the device, and the endpoint name must be its id. Over plain CoAP Hangar follows
 * Leshan's per-endpoint rule: an endpoint without security information may register without
 * security (NoSec); here that means the device exists, is active, and holds no active `psk` or
 * `x509` credential. A device that has one must come over DTLS, so that nobody on the network
 * can register in its name.
 */
export class Lwm2mEndpointAuth {
  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
  ) {}

  async authorize(endpoint: string, principal: DeviceIdentity | undefined, source: string): Promise<DeviceIdentity> {
    if (principal) {
      if (principal.deviceId !== endpoint) throw new HangarError('FORBIDDEN', `the DTLS session belongs to device "${principal.deviceId}", not to endpoint "${endpoint}"`);
      return principal;
    }
    const device = (await this.stores.devices.findOwners([endpoint])).get(endpoint);
    if (!device) throw new HangarError('FORBIDDEN', `unknown endpoint "${endpoint}" (register the device first)`);
    if (device.status !== 'active') throw new HangarError('FORBIDDEN', `device "${endpoint}" is ${device.status}`);
    const now = this.now();
    const secured = (await this.stores.identity.listCredentials(device.tenantId, device.id)).find((c) => c.status === 'active' && c.expiresAt > now && SECURE_TYPES.has(c.type));
    if (secured) throw new HangarError('FORBIDDEN', `device "${endpoint}" has a ${secured.type} credential: it must connect over DTLS (from ${source})`);
    return { tenantId: device.tenantId, deviceId: device.id, credentialId: NOSEC_CREDENTIAL };
  }
}
