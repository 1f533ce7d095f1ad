import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSlotStore, MemorySlotStore, otherSlot, runningVersion, withFinished } from './slots.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-slots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('slots', () => {
  it('starts on slot a with the first-boot version, and keeps writes whole', () => {
    const store = new FileSlotStore(join(dir, 'one'), '1.0.0');
    expect(store.read()).toEqual({ active: 'a', versions: { a: '1.0.0' }, finished: [] });
    store.write({ active: 'a', versions: { a: '1.0.0' }, pending: { slot: 'b', version: '2.0.0', deploymentId: 'd1', artifact: 'full', booted: false }, finished: [] });
    // Another store on the same dir (a restarted agent) reads exactly that; no temp file is left.
    const again = new FileSlotStore(join(dir, 'one'), '0.0.0');
    expect(again.read().pending).toMatchObject({ slot: 'b', version: '2.0.0' });
    expect(runningVersion(again.read(), '0.0.0')).toBe('1.0.0');
    expect(readdirSync(join(dir, 'one')).sort()).toEqual(['a', 'b', 'slots.json']);
  });

  it('a torn temp file from a crash mid-write does not replace the record', () => {
    const store = new FileSlotStore(join(dir, 'two'), '1.0.0');
    store.write({ active: 'b', versions: { a: '1.0.0', b: '2.0.0' }, finished: [] });
    writeFileSync(join(dir, 'two', 'slots.json.tmp'), '{"active":"a", "vers');
    expect(store.read()).toMatchObject({ active: 'b' });
    store.write({ ...store.read(), active: 'a' });
    expect(existsSync(join(dir, 'two', 'slots.json.tmp'))).toBe(false);
    expect(new FileSlotStore(join(dir, 'two')).read().active).toBe('a');
  });

  it('refuses a record that is not one', () => {
    const store = new FileSlotStore(join(dir, 'three'));
    writeFileSync(store.file, '{"active":"c","versions":{}}');
    expect(() => store.read()).toThrow(/not a slots record/);
  });

  it('keeps a bounded list of outcomes, one per deployment', () => {
    let s = new MemorySlotStore('1').read();
    for (let i = 0; i < 30; i += 1) s = withFinished(s, { deploymentId: `d${i}`, state: 'failed', reported: true });
    s = withFinished(s, { deploymentId: 'd29', state: 'succeeded', reported: false });
    expect(s.finished).toHaveLength(20);
    expect(s.finished.filter((f) => f.deploymentId === 'd29')).toEqual([{ deploymentId: 'd29', state: 'succeeded', reported: false }]);
    expect(otherSlot('a')).toBe('b');
  });
});
