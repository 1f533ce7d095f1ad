import { randomBytes } from 'node:crypto';
import type { CredentialService } from '../identity/credential-service.js';
import type { Stores } from '../stores.js';
import { systemPrincipal } from '../tenancy/principal.js';
import type { PskIssuer } from './bootstrap-service.js';

/**
 * Bootstrap's PSKs are ordinary `psk` credentials (audited, revocable, sealed with the master
 * key), issued under identities `<device>#<6 hex>` so they never take the identity an operator's
 * factory PSK usually has (the device id) — the one a device bootstraps with. Each bootstrap
 * replaces the PSKs earlier bootstraps handed the device: they are revoked once the new one
 * exists, so re-bootstrapping never piles credentials up (and ends sessions that used them).
 */
export function credentialPskIssuer(stores: Stores, credentials: CredentialService): PskIssuer {
  return {
    async issuePsk(tenantId, deviceId) {
      const ctx = { principal: { ...systemPrincipal(tenantId), id: 'lwm2m-bootstrap', name: 'LwM2M bootstrap' } };
      const prefix = `${deviceId}#`;
      const earlier = (await stores.identity.listCredentials(tenantId, deviceId)).filter((c) => c.status === 'active' && c.type === 'psk' && c.pskIdentity?.startsWith(prefix));
      const issued = await credentials.issue(ctx, deviceId, { type: 'psk', identity: `${prefix}${randomBytes(3).toString('hex')}` });
      for (const c of earlier) await credentials.revoke(ctx, deviceId, c.id, 'superseded');
      return { identity: issued.credential.pskIdentity!, key: Buffer.from(issued.pskKey!, 'hex') };
    },
  };
}
