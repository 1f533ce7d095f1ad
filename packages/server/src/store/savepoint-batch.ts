import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** What one unit of a batch came to: its value, or what it threw (its writes undone). */
export type UnitOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

const SAVEPOINT = sql.raw('hangar_unit');

/**
 * Runs units of work one after another inside an open transaction, each inside its own
 * SAVEPOINT (SQL:1999; SQLite and PostgreSQL both have them). A unit that throws has its own
 * writes rolled back and nobody else's, and on PostgreSQL its error does not abort the whole
 * transaction. This is what lets a service commit many concurrent requests at once (one WAL
 * write or fsync for all) without one request's failure costing the others theirs.
 *
 * If a savepoint command itself fails, the transaction is unusable: that error is thrown, and
 * the caller's transaction rolls back as a whole.
 */
export async function runInSavepoints<S, T>(trx: Kysely<Database>, tx: S, units: ReadonlyArray<(tx: S) => Promise<T>>): Promise<Array<UnitOutcome<T>>> {
  const outcomes: Array<UnitOutcome<T>> = [];
  for (const unit of units) {
    await sql`SAVEPOINT ${SAVEPOINT}`.execute(trx);
    let outcome: UnitOutcome<T>;
    try {
      outcome = { ok: true, value: await unit(tx) };
    } catch (error) {
      outcome = { ok: false, error };
      await sql`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`.execute(trx);
    }
    await sql`RELEASE SAVEPOINT ${SAVEPOINT}`.execute(trx);
    outcomes.push(outcome);
  }
  return outcomes;
}
