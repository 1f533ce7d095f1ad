import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/** Identity: certificate authorities, CRLs, device credentials, enrollment groups. */
export function identityMigration(dialect: Dialect): Migration {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('certificate_authorities')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('kind', 'text', (c) => c.notNull()) // 'hangar' | 'external'
        .addColumn('status', 'text', (c) => c.notNull()) // 'active' | 'pending_verification' | 'disabled'
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('certificate_pem', 'text', (c) => c.notNull())
        .addColumn('fingerprint_sha256', 'text', (c) => c.notNull())
        // AES-256-GCM under the master key; null for external CAs, whose keys Hangar never holds.
        .addColumn('encrypted_key', 'text')
        .addColumn('verification_code', 'text')
        .addColumn('not_after', bigint, (c) => c.notNull())
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('cas_tenant').on('certificate_authorities').columns(['tenant_id', 'kind', 'status']).execute();
      await db.schema.createIndex('cas_fingerprint').on('certificate_authorities').columns(['tenant_id', 'fingerprint_sha256']).unique().execute();

      await db.schema
        .createTable('crls')
        .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
        .addColumn('ca_id', 'text', (c) => c.notNull())
        .addColumn('crl_number', bigint, (c) => c.notNull())
        .addColumn('crl_pem', 'text', (c) => c.notNull())
        .addColumn('this_update', bigint, (c) => c.notNull())
        .addColumn('next_update', bigint, (c) => c.notNull())
        .execute();

      // No foreign key to devices: a revoked certificate must stay on the CRL after its device is deleted.
      await db.schema
        .createTable('device_credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull()) // 'x509' | 'token'
        .addColumn('status', 'text', (c) => c.notNull()) // 'active' | 'revoked'
        .addColumn('token_hash', 'text', (c) => c.unique())
        .addColumn('ca_id', 'text')
        .addColumn('serial_hex', 'text')
        .addColumn('fingerprint_sha256', 'text')
        .addColumn('certificate_pem', 'text')
        .addColumn('key_algorithm', 'text')
        .addColumn('source', 'text', (c) => c.notNull()) // 'api' | 'enrollment' | 'jit'
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint, (c) => c.notNull())
        .addColumn('revoked_at', bigint)
        .addColumn('revocation_reason', 'text')
        .execute();
      await db.schema.createIndex('credentials_device').on('device_credentials').columns(['tenant_id', 'device_id', 'created_at']).execute();
      await db.schema.createIndex('credentials_fingerprint').on('device_credentials').columns(['fingerprint_sha256']).execute();
      await db.schema.createIndex('credentials_revoked').on('device_credentials').columns(['tenant_id', 'status', 'type']).execute();

      await db.schema
        .createTable('enrollment_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('mechanism', 'text', (c) => c.notNull()) // 'claim_token' | 'symmetric_key' | 'ca'
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('claim_token_hash', 'text')
        .addColumn('encrypted_group_key', 'text')
        .addColumn('ca_id', 'text')
        .addColumn('credential_type', 'text', (c) => c.notNull()) // what to issue when no CSR is sent
        .addColumn('device_type', 'text', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('device_groups', 'text', (c) => c.notNull())
        .addColumn('initial_desired', 'text', (c) => c.notNull())
        .addColumn('device_limit', bigint)
        .addColumn('enrolled_count', bigint, (c) => c.notNull())
        .addColumn('expires_at', bigint)
        .addColumn('created_at', bigint, (c) => c.notNull())
        .addColumn('updated_at', bigint, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('enrollment_groups_name').on('enrollment_groups').columns(['tenant_id', 'name']).unique().execute();
      await db.schema.createIndex('enrollment_groups_claim').on('enrollment_groups').columns(['claim_token_hash']).execute();

      // Seen proofs of the symmetric-key and certificate flows, kept until they could no longer be fresh.
      await db.schema
        .createTable('provisioning_nonces')
        .addColumn('nonce', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', bigint, (c) => c.notNull())
        .execute();
    },
    async down(): Promise<void> {
      throw new Error('the identity migration cannot be reverted');
    },
  };
}
