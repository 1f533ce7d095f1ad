import { sql, type Kysely } from 'kysely';
import type { UnitOutcome } from '../core/stores.js';
import type { Database, Dialect } from './schema.js';

const SAVEPOINT = sql.raw('hangar_unit');

/**
 * Runs units of work one after another inside an open transaction, each inside its own
 * SAVEPOINT (SQL:1999; SQLite and PostgreSQL both have them). A unit that throws has its own
 * writes rolled back and nobody else's, and on PostgreSQL its error does not abort the whole
 * transaction. This is what lets a service commit many concurrent requests at once (one WAL
 * write or fsync for all) without one request's failure costing the others theirs.
 *
 * `units` is iterated as the units run, not before: a lazy iterable can still add the units
 * that arrived while the transaction was waiting for its connection.
 *
 * If a savepoint command itself fails, the transaction is unusable: that error is thrown, and
 * the caller's transaction rolls back as a whole.
 */
export async function runInSavepoints<S extends { readonly dialect: Dialect }, T>(trx: Kysely<Database>, tx: S, units: Iterable<(tx: S) => Promise<T>>): Promise<Array<UnitOutcome<T>>> {
  const outcomes: Array<UnitOutcome<T>> = [];
  let open = false;
  for (const unit of units) {
    if (!open) {
      await sql`SAVEPOINT ${SAVEPOINT}`.execute(trx);
    } else if (tx.dialect === 'postgres') {
      // One round trip instead of two: without parameters, pg sends the simple query protocol,
      // which takes several statements.
      await sql`RELEASE SAVEPOINT ${SAVEPOINT}; SAVEPOINT ${SAVEPOINT}`.execute(trx);
    } else {
      await sql`RELEASE SAVEPOINT ${SAVEPOINT}`.execute(trx);
      await sql`SAVEPOINT ${SAVEPOINT}`.execute(trx);
    }
    open = true;
    try {
      outcomes.push({ ok: true, value: await unit(tx) });
    } catch (error) {
      outcomes.push({ ok: false, error });
      await sql`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`.execute(trx);
    }
  }
  // The last savepoint needs no RELEASE: COMMIT ends it with the transaction (SQLite and PostgreSQL alike).
  return outcomes;
}
