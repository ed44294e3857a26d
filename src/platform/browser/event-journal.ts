import type { Batch, DispatcherObserver } from '../../dispatcher/dispatcher';
import { assignIds } from '../../event/build-event';
import type { OdpWireEvent } from '../../types';
import type { KeyValueStorage } from '../platform';

const PREFIX = 'odp-sdk:';
const META = 'odp-sdk~';
/** A client no page has written for this long is gone (crashed, or evicted from the back/forward cache). */
const STALE_MS = 3_600_000;
/** A live client rewrites its note this often while it holds entries (idle or offline too), so it never looks stale. */
const REFRESH_MS = 600_000;

/** What one client keeps besides its batches: written at `t`, left or frozen (`o`), Retry-After until `r`. */
interface Meta {
  t: number;
  o: 0 | 1;
  r: number;
}

/** Events another client left undelivered, and the pause its server asked for. */
export interface Claimed {
  events: OdpWireEvent[];
  notBefore: number;
}

/**
 * Undelivered events in localStorage until a 2xx for them was seen: one entry per batch
 * (`odp-sdk:{publicKey}:{client}:{batch}`, its body exactly as sent, written once), one for the
 * partial batch (`…:q`), and a small note per client (`odp-sdk~{client}`). A client's entries are
 * taken over by another (a reload, another tab) only once the page that wrote them was left or
 * frozen (its note says so), or went stale; the take-over runs under a Web Lock, so one tab wins.
 * A page that comes back reconciles under the same lock. As the dispatcher's observer, it stores
 * a batch when it is added and forgets it when it is removed. Never throws.
 */
export interface EventJournal extends DispatcherObserver {
  /** Writes that failed (quota, storage disabled) or did not fit `maxBytes`. */
  errors(): number;
  /** Whether the batch is stored (its write succeeded and it is not delivered or dropped yet). */
  keeps(batch: Batch): boolean;
  /** Replaces the stored partial batch. */
  putQueue(publicKey: string, events: readonly OdpWireEvent[]): void;
  /**
   * Notes whether this page was left or frozen (its entries may then be taken over) and until when
   * the server asked for a pause. With no entries held there is no note.
   */
  mark(left: boolean, notBefore: number): void;
  /**
   * Takes over (and removes) the entries for `publicKey` that clients gone for good left: a
   * reload's previous page, a closed tab, a stale one. `take` runs inside the claim, so the
   * events are stored again under this client before another tab can look.
   */
  claim(publicKey: string, take: (claimed: Claimed) => void): void;
  /**
   * The page is back (from the back/forward cache, or unfrozen): under the claim lock, its note says
   * it is live again, and `done` learns which of its batches another page took meanwhile (their
   * entries are gone): those are no longer this page's to send.
   */
  reconcile(done: (taken: ReadonlySet<number>) => void): void;
  /**
   * Stores claimed events this client could not take (queue full, closed): under a key of their own
   * with no note (an orphan's), so that a later page takes them over with their ids.
   */
  keepForLater(publicKey: string, events: readonly OdpWireEvent[]): void;
  /**
   * Forgets the entries and the note this client wrote (opt-out): the client counts those events.
   * Other clients' entries are theirs to forget (each counts its own), and those of pages that are
   * gone are claimed first, so that they are counted too (see the page lifecycle).
   */
  forgetOwn(): void;
  /** The client is closed: its entries stay for the next page, claimable at once. */
  release(): void;
}

/** A note that says left; also what entries without a (readable) note count as: their client is gone. */
const LEFT: Meta = { t: 0, o: 1, r: 0 };

/** Clients alive in this page: their entries are never claimed by another client of the page. */
const live = new Set<string>();

/** A journal over `storage` that keeps at most `maxBytes`; `schedule` is the platform's timer, for the note's refresh. */
export function createJournal(storage: KeyValueStorage, maxBytes: number, newId: () => string, schedule: (fn: () => void, ms: number) => () => void): EventJournal {
  const owner = Math.random().toString(36).slice(2, 10);
  const sizes = new Map<string, number>();
  let bytes = 0;
  let errors = 0;
  const meta: Meta = { t: 0, o: 0, r: 0 };
  let cancelRefresh: (() => void) | undefined;
  live.add(owner);

  const keyOf = (publicKey: string, batch: number | 'q') => `${PREFIX}${publicKey}:${owner}:${batch}`;
  const batchKey = (batch: Batch) => keyOf(batch.odp.publicKey, batch.id);

  const write = (key: string, value: string): boolean => {
    if (storage.set(key, value)) return true;
    errors++;
    storage.remove(key); // a stale copy would re-send delivered events
    return false;
  };

  /** Writes the note while entries are held; without entries there is none (and `t` 0 makes the next entry write it first). */
  const note = () => {
    const held = sizes.size > 0;
    meta.t = held ? Date.now() : 0;
    if (held) write(META + owner, JSON.stringify(meta));
    else storage.remove(META + owner);
  };

  const drop = (key: string) => {
    const size = sizes.get(key);
    if (size === undefined) return;
    sizes.delete(key);
    bytes -= size;
    storage.remove(key);
    if (!sizes.size) {
      note(); // nothing kept: no note either
      cancelRefresh?.();
      cancelRefresh = undefined;
    }
  };

  /** While entries are held (the timer is cancelled with the last one), the note is rewritten every REFRESH_MS. */
  const keepFresh = () => {
    cancelRefresh ??= schedule(() => {
      cancelRefresh = undefined;
      if (!meta.o) note();
      keepFresh();
    }, REFRESH_MS);
  };

  /** Stores an entry, within `maxBytes`. */
  const store = (key: string, json: string) => {
    if (bytes + json.length > maxBytes) {
      errors++;
      return;
    }
    sizes.set(key, json.length);
    bytes += json.length;
    // The note goes first, so that no other tab ever sees this client's entries without it (and takes them as orphans).
    if (meta.t < Date.now() - REFRESH_MS) note();
    if (write(key, json)) keepFresh();
    else drop(key);
  };

  return {
    errors: () => errors,
    keeps: (batch) => sizes.has(batchKey(batch)),
    added: (batch) => store(batchKey(batch), batch.body),
    removed: (batch) => drop(batchKey(batch)),
    putQueue(publicKey, events) {
      const key = keyOf(publicKey, 'q');
      drop(key); // first: the old copy's bytes count no more
      if (!events.length) return;
      assignIds(events, newId); // the same objects go on to the dispatcher: the id is stored and sent alike
      store(key, JSON.stringify(events));
    },
    mark(left, notBefore) {
      meta.o = left ? 1 : 0;
      meta.r = notBefore;
      note();
    },
    claim(publicKey, take) {
      locked(() => take(takeOver(storage, publicKey)));
    },
    reconcile(done) {
      locked(() => {
        meta.o = 0;
        note();
        const taken = new Set<number>();
        for (const key of [...sizes.keys()]) {
          if (storage.get(key) !== null) continue;
          drop(key);
          // The partial batch's `q` reads as NaN, the id of no batch: its events were another page's to take too.
          taken.add(Number(key.slice(key.lastIndexOf(':') + 1)));
        }
        done(taken);
      });
    },
    keepForLater(publicKey, events) {
      write(`${PREFIX}${publicKey}:${owner}-r:0`, JSON.stringify(events));
    },
    forgetOwn() {
      for (const key of [...sizes.keys()]) drop(key);
    },
    release() {
      live.delete(owner);
      cancelRefresh?.();
      meta.o = 1;
      note();
    },
  };
}

/**
 * Runs `run` under the claim lock, a Web Lock. Without Web Locks (engines older than 2022) it runs
 * unlocked: two tabs racing may both take the same entries and send the same events, with the same
 * ids, which ODP de-duplicates.
 */
function locked(run: () => void): void {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (locks) locks.request('odp-sdk-claim', run).catch(run);
  else run();
}

/** Removes and returns the entries for `publicKey` of clients that are gone (left, stale, or with no note), ids once. */
function takeOver(storage: KeyValueStorage, publicKey: string): Claimed {
  const prefix = `${PREFIX}${publicKey}:`;
  const events = new Map<unknown, OdpWireEvent>();
  let notBefore = 0;
  for (const key of storage.keys()) {
    if (!key.startsWith(prefix)) continue;
    const owner = key.slice(prefix.length, key.indexOf(':', prefix.length));
    const meta = readMeta(storage.get(META + owner)) ?? LEFT;
    if (live.has(owner) || (!meta.o && meta.t >= Date.now() - STALE_MS)) continue; // a live client, here or in another tab
    // Its note goes with its first entry: the rest of its entries are then orphans, taken too.
    storage.remove(META + owner);
    notBefore = Math.max(notBefore, meta.r);
    for (const event of readEvents(storage.get(key))) events.set(event.data.idempotence_id, event); // an id seen twice: copies of one event, kept once
    storage.remove(key);
  }
  return { events: [...events.values()], notBefore };
}

/** A storage change that says a client's page was left or frozen (its entries can be taken over). */
export function isLeftNote(key: string | null, value: string | null): boolean {
  return !!key?.startsWith(META) && readMeta(value)?.o === 1;
}

/** JSON or, where it does not parse, undefined. */
function parse(text: string | null): unknown {
  try {
    return JSON.parse(text as string); // null parses as null
  } catch {
    return undefined;
  }
}

function readMeta(text: string | null): Meta | null {
  const meta = parse(text) as Meta | null;
  return typeof meta?.t === 'number' ? meta : null;
}

/** The events of an entry; a corrupt entry or event is left out. */
function readEvents(text: string | null): OdpWireEvent[] {
  const events = parse(text);
  return Array.isArray(events)
    ? events.filter((event: OdpWireEvent) => typeof event?.action === 'string' && typeof event.data?.idempotence_id === 'string' && typeof event.identifiers === 'object')
    : [];
}
