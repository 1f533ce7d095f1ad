import type { FastifyInstance } from 'fastify';
import type { FirmwareSigningKey } from '@hangar/protocol';

/** What the device API needs of the firmware signing keys (core/firmware/signing-keys.ts). */
export interface FirmwareKeyReader {
  deviceKeys(tenantId: string): Promise<FirmwareSigningKey[]>;
}

/**
 * `GET /device/v1/firmware/signing-keys`: the public keys the device verifies firmware
 * manifests with (every key of its tenant, retired ones too, so images signed before a
 * rotation still verify). Registered inside the device API's authenticated scope.
 */
export function firmwareKeyRoutes(scope: FastifyInstance, keys: FirmwareKeyReader): void {
  scope.get(
    '/device/v1/firmware/signing-keys',
    {
      schema: {
        operationId: 'getDeviceFirmwareSigningKeys',
        tags: ['device'],
        summary: 'The Ed25519 public keys that verify firmware manifests: [{"keyId","publicKeyPem"}]',
        description: 'An OTA offer names the key of its signature (`keyId`). See docs/firmware.md.',
        security: [{ deviceBasic: [] }, { deviceBearer: [] }],
      },
    },
    async (request) => keys.deviceKeys(request.device!.tenantId),
  );
}
