import { describe, expect, it, vi } from 'vitest';
import type { Batch } from '../../src/dispatcher/dispatcher';
import { isLeftNote } from '../../src/platform/browser/event-journal';
import type { OdpWireEvent } from '../../src/types';
import { FakeClock, FakeStorage, ids, makeJournal, ODP, START, wireEvent } from './harness';

const HOUR = 3_600_000;
const batch = (id: number, events: OdpWireEvent[], publicKey = 'pk'): Batch => ({ id, odp: { ...ODP, publicKey }, events, body: JSON.stringify(events) });
const note = (t: number, o: 0 | 1, r = 0) => JSON.stringify({ t, o, r });
/** The journal's client id, read from the key of its note. */
const ownerOf = (local: FakeStorage) => local.keys().find((key) => key.startsWith('odp-sdk~'))!.slice('odp-sdk~'.length);

describe('event journal: writes', () => {
  it('added() stores a batch as sent under its own key, after the note; removed() takes it away, and the note with the last one', () => {
    new FakeClock();
    const { journal, local } = makeJournal();
    const a = batch(1, [wireEvent(1)]);
    const b = batch(2, [wireEvent(2)]);
    journal.added(a);
    const owner = ownerOf(local);
    expect(owner).toMatch(/^[0-9a-z]+$/);
    expect(local.keys()).toEqual([`odp-sdk~${owner}`, `odp-sdk:pk:${owner}:1`]);
    expect(JSON.parse(local.getItem(`odp-sdk~${owner}`)!)).toEqual({ t: START, o: 0, r: 0 });
    expect(local.getItem(`odp-sdk:pk:${owner}:1`)).toBe(a.body);
    journal.added(b);
    journal.removed(a);
    expect(local.keys()).toEqual([`odp-sdk~${owner}`, `odp-sdk:pk:${owner}:2`]);
    journal.removed(a); // twice: nothing happens
    journal.removed(b);
    expect(local.keys()).toEqual([]);
    expect(journal.errors()).toBe(0);
  });

  it('maxBytes bounds what is kept: a batch that would pass it is not stored (an error); removing frees room', () => {
    new FakeClock();
    const a = batch(1, [wireEvent(1)]);
    const { journal, local } = makeJournal(new FakeStorage(), a.body.length * 2);
    journal.added(a);
    journal.added(batch(2, [wireEvent(2)])); // exactly full
    journal.added(batch(3, [wireEvent(3)]));
    expect(journal.errors()).toBe(1);
    expect(local.keys().filter((key) => key.startsWith('odp-sdk:'))).toHaveLength(2);
    journal.removed(a);
    journal.added(batch(4, [wireEvent(4)]));
    expect(journal.errors()).toBe(1);
    expect(local.keys().filter((key) => key.endsWith(':4'))).toHaveLength(1);
  });

  it('putQueue() stores the partial batch with ids assigned to the same objects, replaces it, and removes it when empty', () => {
    new FakeClock();
    const { journal, local } = makeJournal();
    const events = [wireEvent(1), wireEvent(2)];
    events[1]!.data.idempotence_id = '';
    journal.putQueue('pk', events);
    expect(events[1]!.data.idempotence_id).toBe('jid-0');
    const key = `odp-sdk:pk:${ownerOf(local)}:q`;
    expect(local.getItem(key)).toBe(JSON.stringify(events));
    journal.putQueue('pk', events.slice(0, 1));
    expect(local.getItem(key)).toBe(JSON.stringify(events.slice(0, 1)));
    journal.putQueue('pk', []);
    expect(local.keys()).toEqual([]);
  });

  it('putQueue() within maxBytes only: the replaced copy frees its bytes first', () => {
    new FakeClock();
    const one = JSON.stringify([wireEvent(1)]).length;
    const { journal, local } = makeJournal(new FakeStorage(), one);
    journal.putQueue('pk', [wireEvent(1)]);
    journal.putQueue('pk', [wireEvent(2)]);
    expect(journal.errors()).toBe(0);
    journal.putQueue('pk', [wireEvent(1), wireEvent(2)]);
    expect(journal.errors()).toBe(1);
    expect(local.keys().filter((key) => key.startsWith('odp-sdk:'))).toEqual([]); // the old copy is gone, not stale
  });

  it('a write that fails (quota) is an error, and no stale copy stays; storage that always throws never throws here', () => {
    new FakeClock();
    const local = new FakeStorage();
    const { journal } = makeJournal(local);
    journal.added(batch(1, [wireEvent(1)]));
    local.quotaBytes = 0;
    journal.putQueue('pk', [wireEvent(2)]);
    journal.added(batch(2, [wireEvent(3)]));
    expect(journal.errors()).toBe(2);
    expect(local.keys().some((key) => key.endsWith(':q') || key.endsWith(':2'))).toBe(false);
    local.broken = true;
    expect(() => {
      journal.added(batch(3, [wireEvent(4)]));
      journal.mark(true, 0);
      journal.claim('pk', () => {});
      journal.forgetOwn();
      journal.release();
    }).not.toThrow();
    expect(journal.errors()).toBe(4); // the batch, and the note that mark() could not write
  });

  it('the note is rewritten by writes at most every ten minutes, so a live client never looks stale', async () => {
    const clock = new FakeClock();
    const { journal, local } = makeJournal();
    journal.added(batch(1, [wireEvent(1)]));
    const owner = ownerOf(local);
    await clock.advance(600_000);
    journal.added(batch(2, [wireEvent(2)]));
    expect(JSON.parse(local.getItem(`odp-sdk~${owner}`)!).t).toBe(START);
    await clock.advance(1);
    journal.added(batch(3, [wireEvent(3)]));
    expect(JSON.parse(local.getItem(`odp-sdk~${owner}`)!).t).toBe(START + 600_001);
  });

  it('mark() notes left and the pause; with nothing kept there is no note, and the next entry writes it first', async () => {
    const clock = new FakeClock();
    const { journal, local } = makeJournal();
    journal.added(batch(1, [wireEvent(1)]));
    const owner = ownerOf(local);
    journal.mark(true, START + 7);
    expect(JSON.parse(local.getItem(`odp-sdk~${owner}`)!)).toEqual({ t: START, o: 1, r: START + 7 });
    journal.removed(batch(1, []));
    expect(local.getItem(`odp-sdk~${owner}`)).toBeNull();
    journal.mark(false, 0);
    expect(local.keys()).toEqual([]);
    await clock.advance(5);
    journal.added(batch(2, [wireEvent(2)]));
    expect(local.keys()).toEqual([`odp-sdk~${owner}`, `odp-sdk:pk:${owner}:2`]);
    expect(JSON.parse(local.getItem(`odp-sdk~${owner}`)!)).toEqual({ t: START + 5, o: 0, r: 0 });
  });

  it('replacing the partial batch when it is the only entry keeps the note: a live client never looks like an orphan', () => {
    new FakeClock();
    const { journal, local } = makeJournal();
    journal.putQueue('pk', [wireEvent(1)]);
    const owner = ownerOf(local);
    journal.putQueue('pk', [wireEvent(1), wireEvent(2)]);
    expect(local.keys()).toEqual([`odp-sdk~${owner}`, `odp-sdk:pk:${owner}:q`]);
    // Another tab's claim leaves it alone.
    const other = makeJournal(local).journal;
    other.claim('pk', ({ events }) => expect(events).toEqual([]));
    expect(local.keys()).toHaveLength(2);
  });

  it("forgetOwn() forgets this client's entries and note only: other clients' and other keys' entries are theirs", () => {
    new FakeClock();
    const { journal, local } = makeJournal(new FakeStorage(), 1_000);
    journal.added(batch(1, [wireEvent(1)]));
    journal.putQueue('pk', [wireEvent(2)]);
    local.setItem('odp-sdk:other:x:1', '[]');
    local.setItem('odp-sdk:pk:x:1', '[]');
    local.setItem('odp-sdk~x', note(0, 1));
    local.setItem('odp-sdk-opt-out', '1');
    local.setItem('unrelated', 'x');
    journal.forgetOwn();
    expect(local.keys().sort()).toEqual(['odp-sdk-opt-out', 'odp-sdk:other:x:1', 'odp-sdk:pk:x:1', 'odp-sdk~x', 'unrelated']);
    journal.added(batch(2, [wireEvent(3, { data: { idempotence_id: 'x'.repeat(900) } as never })])); // its byte count started over
    expect(journal.errors()).toBe(0);
  });

  it('while it holds entries, a live client rewrites its note every ten minutes, idle or not, so that it never looks stale; with none, no timer runs', async () => {
    const clock = new FakeClock();
    const { journal, local } = makeJournal(new FakeStorage(), 100_000, clock.schedule);
    journal.added(batch(1, [wireEvent(1)]));
    const owner = ownerOf(local);
    await clock.advance(3 * 3_600_000); // three hours idle (or offline): no write of its own
    // Another tab takes a note older than an hour for a crashed page's: this one stays younger than ten minutes.
    expect(JSON.parse(local.getItem(`odp-sdk~${owner}`)!)).toMatchObject({ o: 0, t: START + 3 * 3_600_000 });
    journal.removed(batch(1, []));
    expect(clock.pending).toBe(0);
  });
});

describe('event journal: claims', () => {
  it('a reload: the closed (released) client\'s entries are claimed by the next one, once, with its pause; live clients of this page are not', () => {
    new FakeClock();
    const local = new FakeStorage();
    const first = makeJournal(local).journal;
    first.added(batch(1, [wireEvent(1), wireEvent(2)]));
    first.putQueue('pk', [wireEvent(3)]);
    first.added(batch(2, [wireEvent(9)], 'other'));
    const second = makeJournal(local).journal;
    const seen: Array<{ events: unknown[]; notBefore: number }> = [];
    second.claim('pk', ({ events, notBefore }) => seen.push({ events: ids(events), notBefore }));
    expect(seen).toEqual([{ events: [], notBefore: 0 }]); // the first client lives in this page
    first.mark(false, START + 500);
    first.release();
    second.claim('pk', ({ events, notBefore }) => seen.push({ events: ids(events).sort(), notBefore }));
    expect(seen[1]).toEqual({ events: ['id-1', 'id-2', 'id-3'], notBefore: START + 500 });
    expect(local.keys().filter((key) => key.startsWith('odp-sdk:pk:'))).toEqual([]);
    expect(local.keys().filter((key) => key.startsWith('odp-sdk:other:'))).toHaveLength(1); // another key's
    second.claim('pk', ({ events }) => seen.push({ events, notBefore: 0 }));
    expect(seen[2]!.events).toEqual([]);
  });

  it("another tab's: a live one is left alone; one left for good, a stale one and an orphan (no note) are claimed; their notes go", () => {
    const clock = new FakeClock();
    const local = new FakeStorage();
    local.setItem('odp-sdk~live', note(clock.now() - HOUR, 0, START + 9_000));
    local.setItem('odp-sdk:pk:live:1', JSON.stringify([wireEvent(1)]));
    local.setItem('odp-sdk~left', note(clock.now(), 1, START + 2_000));
    local.setItem('odp-sdk:pk:left:1', JSON.stringify([wireEvent(2)]));
    local.setItem('odp-sdk~stale', note(clock.now() - HOUR - 1, 0, START + 3_000));
    local.setItem('odp-sdk:pk:stale:q', JSON.stringify([wireEvent(3)]));
    local.setItem('odp-sdk:pk:orphan:4', JSON.stringify([wireEvent(4)]));
    local.setItem('odp-sdk~bad', '{"t":"x"}');
    local.setItem('odp-sdk:pk:bad:1', JSON.stringify([wireEvent(5)]));
    const { journal } = makeJournal(local);
    let claimed: { events: OdpWireEvent[]; notBefore: number } | undefined;
    journal.claim('pk', (c) => (claimed = c));
    expect(ids(claimed!.events).sort()).toEqual(['id-2', 'id-3', 'id-4', 'id-5']);
    expect(claimed!.notBefore).toBe(START + 3_000);
    expect(local.keys().sort()).toEqual(['odp-sdk:pk:live:1', 'odp-sdk~live']);
  });

  it('corrupt entries are removed and skipped; malformed events inside are left out; an id seen twice is kept once', () => {
    new FakeClock();
    const local = new FakeStorage();
    local.setItem('odp-sdk:pk:a:1', '{not json');
    local.setItem('odp-sdk:pk:a:2', JSON.stringify({ e: [wireEvent(7)] }));
    local.setItem('odp-sdk:pk:a:3', 'null');
    local.setItem(
      'odp-sdk:pk:a:4',
      JSON.stringify([null, 5, { action: 1, identifiers: {}, data: { idempotence_id: 'x' } }, { action: 'a', identifiers: {}, data: { idempotence_id: 7 } }, { action: 'a', data: { idempotence_id: 'y' } }, { action: 'a', identifiers: {} }, wireEvent(1), wireEvent(1), wireEvent(2)]),
    );
    local.setItem('odp-sdk:pk:a:5', JSON.stringify([wireEvent(2), wireEvent(3)]));
    const { journal } = makeJournal(local);
    let events: OdpWireEvent[] = [];
    journal.claim('pk', (c) => (events = c.events));
    expect(ids(events)).toEqual(['id-1', 'id-2', 'id-3']);
    expect(local.keys()).toEqual([]);
  });

  it('without Web Locks the claim runs at once, unlocked (two tabs racing may both send the same events, with the same ids)', () => {
    new FakeClock();
    const local = new FakeStorage();
    local.setItem('odp-sdk:pk:gone:1', JSON.stringify([wireEvent(1)]));
    const { journal } = makeJournal(local);
    const seen: unknown[][] = [];
    journal.claim('pk', (c) => seen.push(ids(c.events)));
    expect(seen).toEqual([['id-1']]);
    expect(local.keys()).toEqual([]); // no marker of any kind
    expect(() => journal.claim('pk', () => {
      throw new Error('x');
    })).toThrow('x');
  });

  it('with Web Locks: the claim runs under the lock named odp-sdk-claim, and still runs when the lock request fails', async () => {
    new FakeClock();
    const requested: string[] = [];
    let fail = false;
    vi.stubGlobal('navigator', {
      locks: {
        request(name: string, fn: () => void) {
          requested.push(name);
          if (fail) return Promise.reject(new Error('no locks here'));
          return Promise.resolve().then(fn);
        },
      },
    });
    const local = new FakeStorage();
    local.setItem('odp-sdk:pk:gone:1', JSON.stringify([wireEvent(1)]));
    const { journal } = makeJournal(local);
    const seen: unknown[][] = [];
    journal.claim('pk', (c) => seen.push(ids(c.events)));
    expect(seen).toEqual([]); // async: inside the lock
    await Promise.resolve();
    await Promise.resolve();
    expect(seen).toEqual([['id-1']]);
    expect(requested).toEqual(['odp-sdk-claim']);
    fail = true;
    journal.claim('pk', (c) => seen.push(ids(c.events)));
    await Promise.resolve();
    await Promise.resolve();
    expect(seen).toEqual([['id-1'], []]);
  });

  it('isLeftNote: a storage change that notes a client left for good', () => {
    expect(isLeftNote('odp-sdk~abc', note(1, 1))).toBe(true);
    expect(isLeftNote('odp-sdk~abc', note(1, 0))).toBe(false);
    expect(isLeftNote('odp-sdk:abc', note(1, 1))).toBe(false);
    expect(isLeftNote(null, note(1, 1))).toBe(false);
    expect(isLeftNote('odp-sdk~abc', null)).toBe(false);
    expect(isLeftNote('odp-sdk~abc', 'garbage')).toBe(false);
    expect(isLeftNote('odp-sdk~abc', '{"o":1}')).toBe(false);
  });
});
