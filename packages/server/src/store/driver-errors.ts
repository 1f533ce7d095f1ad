import { StoreError, type StoreErrorReason } from '../core/stores.js';

// The codes are the drivers' own: PostgreSQL SQLSTATEs (PostgreSQL docs, Appendix A) as pg
// reports them in `code`, and better-sqlite3's extended result code names.
const REASONS: ReadonlyMap<string, StoreErrorReason> = new Map<string, StoreErrorReason>([
  ['23505', 'unique'], // unique_violation
  ['SQLITE_CONSTRAINT_PRIMARYKEY', 'unique'],
  ['SQLITE_CONSTRAINT_UNIQUE', 'unique'],
  ['23503', 'foreignKey'], // foreign_key_violation
  ['SQLITE_CONSTRAINT_FOREIGNKEY', 'foreignKey'],
  ['40P01', 'retry'], // deadlock_detected
  ['40001', 'retry'], // serialization_failure
  ['SQLITE_BUSY', 'busy'],
]);

/** The StoreError for a driver error the store recognises; anything else unchanged. */
export function toStoreError(err: unknown): unknown {
  if (typeof err !== 'object' || err === null || err instanceof StoreError) return err;
  const code = (err as { code?: unknown }).code;
  const reason = typeof code === 'string' ? REASONS.get(code) : undefined;
  if (reason === undefined) return err;
  return new StoreError(reason, err instanceof Error ? err.message : String(code), { cause: err });
}

/** For `promise.catch(rethrowAsStoreError)` at the store's boundary. */
export function rethrowAsStoreError(err: unknown): never {
  throw toStoreError(err);
}
