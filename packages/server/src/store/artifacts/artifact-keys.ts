import { StoreError } from '../../core/stores.js';
import { HangarError } from '../../errors.js';

/** `firmware/{id}`, `deltas/{id}`: path segments of safe characters only, so a key can never leave the store's directory. */
const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(\/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}){0,3}$/;

export function checkArtifactKey(key: string): string {
  if (!KEY.test(key) || key.split('/').some((s) => s === '..' || s === '.')) throw new Error(`invalid artifact key "${key}"`);
  return key;
}

export function tooLarge(maxBytes: number): HangarError {
  return new HangarError('PAYLOAD_TOO_LARGE', `the artifact exceeds the limit of ${maxBytes} bytes`);
}

/** Artifacts never change once written: a second put under a key is refused. */
export function exists(key: string): StoreError {
  return new StoreError('unique', `artifact "${key}" exists`);
}
