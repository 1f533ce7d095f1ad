import { describe, expect, it } from 'vitest';
import { StoreError } from '../core/stores.js';
import { toStoreError } from './driver-errors.js';

/** A driver error as pg and better-sqlite3 shape them: an Error with a string `code`. */
function driverError(code: string): Error {
  return Object.assign(new Error(`driver says ${code}`), { code });
}

describe('driver errors', () => {
  it.each([
    ['23505', 'unique'],
    ['SQLITE_CONSTRAINT_PRIMARYKEY', 'unique'],
    ['SQLITE_CONSTRAINT_UNIQUE', 'unique'],
    ['23503', 'foreignKey'],
    ['SQLITE_CONSTRAINT_FOREIGNKEY', 'foreignKey'],
    ['40P01', 'retry'],
    ['40001', 'retry'],
    ['SQLITE_BUSY', 'busy'],
  ])('turns %s into StoreError %s, keeping the driver error as its cause', (code, reason) => {
    const original = driverError(code);
    const err = toStoreError(original);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ reason, message: original.message, cause: original });
  });

  it('passes every other error through as it is', () => {
    for (const err of [driverError('SQLITE_CONSTRAINT_CHECK'), driverError('42P01'), new Error('disk full'), 'text', null, undefined]) {
      expect(toStoreError(err)).toBe(err);
    }
    const already = new StoreError('unique', 'taken');
    expect(toStoreError(already)).toBe(already);
  });
});
