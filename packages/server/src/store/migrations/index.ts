import type { Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../schema.js';
import { initialMigration } from './001-initial.js';
import { identityMigration } from './002-identity.js';
import { telemetryMigration } from './003-telemetry.js';
import { presenceMigration } from './004-presence.js';
import { webhooksMigration } from './005-webhooks.js';
import { alertsMigration } from './006-alerts.js';
import { telemetryRateLimitsMigration } from './007-telemetry-rate-limits.js';
import { twinMetadataMigration } from './008-twin-metadata.js';
import { twinSchemasMigration } from './009-twin-schemas.js';
import { commandsMigration } from './010-commands.js';
import { jobsMigration } from './011-jobs.js';
import { deviceLogsMigration } from './012-device-logs.js';
import { configurationsMigration } from './013-configurations.js';
import { firmwareMigration } from './014-firmware.js';
import { firmwareDeltasMigration } from './015-firmware-deltas.js';
import { rolloutsMigration } from './016-rollouts.js';
import { pskCredentialsMigration } from './017-psk-credentials.js';
import { lwm2mMigration } from './018-lwm2m.js';

/**
 * Versioned migrations, applied in name order at start. Never edit a released migration:
 * add the next number.
 */
export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '001-initial': initialMigration(dialect),
        '002-identity': identityMigration(dialect),
        '003-telemetry': telemetryMigration(dialect),
        '004-presence': presenceMigration(dialect),
        '005-webhooks': webhooksMigration(dialect),
        '006-alerts': alertsMigration(dialect),
        '007-telemetry-rate-limits': telemetryRateLimitsMigration(dialect),
        '008-twin-metadata': twinMetadataMigration(dialect),
        '009-twin-schemas': twinSchemasMigration(dialect),
        '010-commands': commandsMigration(dialect),
        '011-jobs': jobsMigration(dialect),
        '012-device-logs': deviceLogsMigration(dialect),
        '013-configurations': configurationsMigration(dialect),
        '014-firmware': firmwareMigration(dialect),
        '015-firmware-deltas': firmwareDeltasMigration(dialect),
        '016-rollouts': rolloutsMigration(dialect),
        '017-psk-credentials': pskCredentialsMigration(dialect),
        '018-lwm2m': lwm2mMigration(dialect),
      };
    },
  };
}
