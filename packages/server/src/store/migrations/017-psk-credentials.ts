import type { Kysely, Migration } from 'kysely';
import { sql } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * Pre-shared keys for DTLS (docs/provisioning.md): a `psk` credential keeps its identity in
 * clear (the DTLS handshake names it) and its key sealed with the master key, because the
 * server must read the key back to finish every handshake.
 */
export function pskCredentialsMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('device_credentials').addColumn('psk_identity', 'text').execute();
      // AES-256-GCM under the master key, bound to the credential id.
      await db.schema.alterTable('device_credentials').addColumn('encrypted_psk', 'text').execute();
      // One active credential per identity in the whole installation: the handshake names only
      // the identity, so it alone must find the device. Revoked ones free it (a device that ships
      // with a fixed identity gets a new key under the same one). Partial indexes: SQLite 3.8+ and PostgreSQL.
      await sql`CREATE UNIQUE INDEX credentials_psk_identity ON device_credentials (psk_identity) WHERE status = 'active' AND psk_identity IS NOT NULL`.execute(db);
      // Every credential of an identity, revoked ones included: a revoked device that keeps
      // trying is told apart from a guess (it must not use up its address's failure budget).
      await sql`CREATE INDEX credentials_psk_identity_any ON device_credentials (psk_identity) WHERE psk_identity IS NOT NULL`.execute(db);
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('credentials_psk_identity_any').execute();
      await db.schema.dropIndex('credentials_psk_identity').execute();
      await db.schema.alterTable('device_credentials').dropColumn('encrypted_psk').execute();
      await db.schema.alterTable('device_credentials').dropColumn('psk_identity').execute();
    },
  };
}
