import { describe, expect, it } from 'vitest';
import type { OdpWireEvent } from '../../src/types';
import { FakeClock, FakeStorage, ids, makeJournal, START, wireEvent } from './harness';

const HOUR = 3_600_000;
const entry = (t: number, o: 0 | 1, e: unknown[]) => JSON.stringify({ t, o, e });

describe('event journal', () => {
  it('save then claim in a reload of the same tab: the events come back once, in order, and the entry is gone', () => {
    new FakeClock();
    const local = new FakeStorage();
    const session = new FakeStorage();
    const first = makeJournal(local, session).journal;
    first.save({ pk: [wireEvent(1), wireEvent(2)] }, 100_000, false);
    expect(local.keys()).toHaveLength(1);
    expect(local.keys()[0]).toMatch(/^odp-sdk:pk:[0-9a-z]+$/);
    expect(JSON.parse(local.getItem(local.keys()[0]!)!)).toEqual({ t: START, o: 0, e: [wireEvent(1), wireEvent(2)] });
    const reload = makeJournal(local, session).journal; // same sessionStorage: same tab id
    expect(ids(reload.claim('pk'))).toEqual(['id-1', 'id-2']);
    expect(local.keys()).toEqual([]);
    expect(reload.claim('pk')).toEqual([]);
  });

  it("another tab's live entry is left alone; a left page's entry and a stale one are claimed", () => {
    const clock = new FakeClock();
    const local = new FakeStorage();
    local.setItem('odp-sdk:pk:live', entry(clock.now() - HOUR + 1, 0, [wireEvent(1)]));
    local.setItem('odp-sdk:pk:left', entry(clock.now(), 1, [wireEvent(2)]));
    local.setItem('odp-sdk:pk:stale', entry(clock.now() - HOUR, 0, [wireEvent(3)]));
    local.setItem('odp-sdk:other:gone', entry(0, 1, [wireEvent(4)]));
    local.setItem('unrelated', 'x');
    const { journal } = makeJournal(local);
    expect(ids(journal.claim('pk')).sort()).toEqual(['id-2', 'id-3']);
    expect(local.keys().sort()).toEqual(['odp-sdk:other:gone', 'odp-sdk:pk:live', 'unrelated']);
  });

  it('corrupt entries are removed and ignored; malformed events inside are skipped; duplicate ids kept once', () => {
    new FakeClock();
    const local = new FakeStorage();
    local.setItem('odp-sdk:pk:a', '{not json');
    local.setItem('odp-sdk:pk:b', JSON.stringify({ t: 'x', e: [] }));
    local.setItem('odp-sdk:pk:c', JSON.stringify({ t: 1, e: 'x' }));
    local.setItem('odp-sdk:pk:d', 'null');
    local.setItem('odp-sdk:pk:e', entry(0, 1, [null, 5, { action: 1, data: { idempotence_id: 'x' } }, { action: 'a', data: { idempotence_id: 7 } }, { action: 'a' }, wireEvent(1), wireEvent(1), wireEvent(2)]));
    const { journal } = makeJournal(local);
    expect(ids(journal.claim('pk'))).toEqual(['id-1', 'id-2']);
    expect(local.keys()).toEqual([]);
  });

  it('save keeps the oldest events within maxBytes; 0 stores none and removes the entry', () => {
    new FakeClock();
    const { journal, local } = makeJournal();
    const events = [wireEvent(1), wireEvent(2), wireEvent(3)];
    const one = JSON.stringify(events[0]).length + 1;
    journal.save({ pk: events }, one * 2, false);
    const stored = JSON.parse(local.getItem(local.keys()[0]!)!) as { e: OdpWireEvent[] };
    expect(ids(stored.e)).toEqual(['id-1', 'id-2']);
    journal.save({ pk: events }, one * 2 - 1, false);
    expect(ids((JSON.parse(local.getItem(local.keys()[0]!)!) as { e: OdpWireEvent[] }).e)).toEqual(['id-1']);
    journal.save({ pk: events }, 0, false);
    expect(local.keys()).toEqual([]);
  });

  it('a key saved before and absent now is cleared; leaving marks the entry for other tabs', () => {
    new FakeClock();
    const { journal, local } = makeJournal();
    journal.save({ a: [wireEvent(1)], b: [wireEvent(2)] }, 100_000, false);
    expect(local.keys()).toHaveLength(2);
    journal.save({ a: [wireEvent(1)] }, 100_000, true);
    expect(local.keys()).toHaveLength(1);
    expect(JSON.parse(local.getItem(local.keys()[0]!)!).o).toBe(1);
  });

  it('quota errors are counted, and the stale copy is removed so delivered events are not re-sent', () => {
    new FakeClock();
    const local = new FakeStorage();
    const { journal } = makeJournal(local);
    journal.save({ pk: [wireEvent(1)] }, 100_000, false);
    expect(journal.errors).toBe(0);
    local.quotaBytes = local.getItem(local.keys()[0]!)!.length + 40;
    journal.save({ pk: [wireEvent(1), wireEvent(2), wireEvent(3)] }, 100_000, false);
    expect(journal.errors).toBe(1);
    expect(local.keys()).toEqual([]);
  });

  it('storage that throws on every call: errors counted, nothing thrown', () => {
    new FakeClock();
    const local = new FakeStorage();
    const { journal } = makeJournal(local);
    local.broken = true;
    expect(() => journal.save({ pk: [wireEvent(1)] }, 100_000, false)).not.toThrow();
    expect(journal.errors).toBe(1);
    expect(journal.claim('pk')).toEqual([]);
  });

  it('claim keeps what it read before storage failed', () => {
    new FakeClock();
    const local = new FakeStorage();
    local.setItem('odp-sdk:pk:x', entry(0, 1, [wireEvent(1)]));
    local.setItem('odp-sdk:pk:y', entry(0, 1, [wireEvent(2)]));
    const { journal } = makeJournal(local);
    const removeItem = local.removeItem.bind(local);
    let removals = 0;
    local.removeItem = (key: string) => {
      if (removals++) throw new Error('gone');
      removeItem(key);
    };
    expect(journal.claim('pk')).toHaveLength(1);
  });

  it('the tab id lives in sessionStorage; without one (or when it throws) each journal is a new tab', () => {
    new FakeClock();
    const session = new FakeStorage();
    makeJournal(new FakeStorage(), session);
    const tab = session.getItem('odp-sdk-tab');
    expect(tab).toMatch(/^[0-9a-z]+$/);
    makeJournal(new FakeStorage(), session);
    expect(session.getItem('odp-sdk-tab')).toBe(tab);

    const local = new FakeStorage();
    const a = makeJournal(local, undefined).journal;
    a.save({ pk: [wireEvent(1)] }, 100_000, false);
    const broken = new FakeStorage();
    broken.broken = true;
    const b = makeJournal(local, broken).journal;
    b.save({ pk: [wireEvent(2)] }, 100_000, false);
    expect(local.keys()).toHaveLength(2);
    expect(new Set(local.keys().map((k) => k.split(':')[2])).size).toBe(2);
    expect(local.keys().every((k) => /^odp-sdk:pk:[0-9a-z]+$/.test(k))).toBe(true);
    // Neither is claimed by the other while live: a new tab id never matches.
    expect(b.claim('pk').map((e) => e.data.idempotence_id)).toEqual(['id-2']);
  });
});
