import type { Batch } from '../../dispatcher/dispatcher';
import { assignIds } from '../../event/build-event';
import type { OdpWireEvent } from '../../types';
import type { KeyValueStorage } from '../platform';

const PREFIX = 'odp-sdk:';
const META = 'odp-sdk~';
const LOCK = 'odp-sdk-claim';
/** A client no page has written for this long is gone (crashed, or evicted from the back/forward cache). */
const STALE_MS = 3_600_000;
/** Without Web Locks, a claim marker younger than this is another tab's claim in progress. */
const FALLBACK_LOCK_MS = 1_000;
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

/** Clients alive in this page: their entries are never claimed by another client of the page. */
const live = new Set<string>();

/**
 * Undelivered events in localStorage until a 2xx for them was seen: one entry per batch
 * (`odp-sdk:{publicKey}:{client}:{batch}`, its body exactly as sent, written once), one for the
 * partial batch (`…:q`), and a small note per client (`odp-sdk~{client}`). A client's entries are
 * taken over by another (a reload, another tab) only once the page that wrote them was left or
 * frozen (its note says so), or went stale; the take-over runs under a Web Lock, so one tab wins.
 * A page that comes back reconciles under the same lock. Never throws.
 */
export class EventJournal {
  /** Writes that failed (quota, storage disabled) or did not fit `maxBytes`. */
  errors = 0;
  private readonly owner = Math.random().toString(36).slice(2, 10);
  private readonly sizes = new Map<string, number>();
  private bytes = 0;
  private meta: Meta = { t: 0, o: 0, r: 0 };
  private cancelRefresh: (() => void) | undefined;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly maxBytes: number,
    private readonly newId: () => string,
    /** The platform's timer, for the note's refresh. */
    private readonly schedule: (fn: () => void, ms: number) => () => void,
  ) {
    live.add(this.owner);
  }

  /** Whether the batch is stored (its write succeeded and it is not delivered or dropped yet). */
  keeps(batch: Batch): boolean {
    return this.sizes.has(`${PREFIX}${batch.odp.publicKey}:${this.owner}:${batch.id}`);
  }

  /** A batch holds undelivered events: stored as sent, unless it would pass `maxBytes`. */
  put(batch: Batch): void {
    const key = `${PREFIX}${batch.odp.publicKey}:${this.owner}:${batch.id}`;
    const size = batch.body.length;
    if (this.bytes + size > this.maxBytes) {
      this.errors++;
      return;
    }
    if (this.write(key, batch.body)) {
      this.sizes.set(key, size);
      this.bytes += size;
      this.keepFresh();
    }
  }

  /** The batch was delivered or dropped (or replaced by its parts). */
  remove(batch: Batch): void {
    this.drop(`${PREFIX}${batch.odp.publicKey}:${this.owner}:${batch.id}`);
  }

  /** Replaces the stored partial batch. */
  putQueue(publicKey: string, events: readonly OdpWireEvent[]): void {
    const key = `${PREFIX}${publicKey}:${this.owner}:q`;
    if (!events.length) return this.drop(key);
    assignIds(events, this.newId); // the same objects go on to the dispatcher: the id is stored and sent alike
    const json = JSON.stringify(events);
    this.drop(key);
    if (this.bytes + json.length > this.maxBytes) {
      this.errors++;
    } else if (this.write(key, json)) {
      this.sizes.set(key, json.length);
      this.bytes += json.length;
      this.keepFresh();
    }
  }

  /** Notes whether this page was left or frozen (its entries may then be taken over) and until when the server asked for a pause. */
  mark(left: boolean, notBefore: number, force = false): void {
    this.meta = { t: Date.now(), o: left ? 1 : 0, r: notBefore };
    if (force || this.sizes.size) this.write(META + this.owner, JSON.stringify(this.meta));
    else this.storage.remove(META + this.owner);
  }

  /**
   * Takes over (and removes) the entries for `publicKey` that clients gone for good left: a
   * reload's previous page, a closed tab, a stale one. `take` runs inside the claim, so the
   * events are stored again under this client before another tab can look.
   */
  claim(publicKey: string, take: (claimed: Claimed) => void): void {
    this.locked(() => take(this.takeOver(publicKey)));
  }

  /**
   * The page is back (from the back/forward cache, or unfrozen): under the claim lock, its note says
   * it is live again, and `done` learns which of its batches another page took meanwhile (their
   * entries are gone): those are no longer this page's to send.
   */
  reconcile(done: (taken: Set<number>) => void): void {
    this.locked(() => {
      this.mark(false, this.meta.r);
      const taken = new Set<number>();
      for (const key of [...this.sizes.keys()]) {
        if (this.storage.get(key) !== null) continue;
        const id = Number(key.slice(key.lastIndexOf(':') + 1));
        if (Number.isInteger(id)) taken.add(id);
        else this.drop(key); // the partial batch: its events were another page's to take too
      }
      done(taken);
    });
  }

  /** Runs `run` under the claim lock: a Web Lock, or without Web Locks a timestamped marker. */
  private locked(run: () => void): void {
    const locks = (globalThis as { navigator?: { locks?: { request(name: string, fn: () => void): Promise<unknown> } } }).navigator?.locks;
    if (locks) {
      locks.request(LOCK, run).catch(() => run());
      return;
    }
    this.claimWithMarker(run, 0);
  }

  /**
   * Stores claimed events this client could not take (queue full, closed): under a key of their own,
   * marked as left, so that a later page takes them over with their ids.
   */
  keepForLater(publicKey: string, events: readonly OdpWireEvent[]): void {
    const owner = `${this.owner}-r`;
    if (this.storage.set(`${PREFIX}${publicKey}:${owner}:0`, JSON.stringify(events))) {
      this.storage.set(META + owner, JSON.stringify({ t: Date.now(), o: 1, r: 0 }));
    } else {
      this.errors++;
    }
  }

  /**
   * Forgets the entries and the note this client wrote (opt-out): the client counts those events.
   * Other clients' entries are theirs to forget (each counts its own), and those of pages that are
   * gone are claimed first, so that they are counted too (see the page lifecycle).
   */
  forgetOwn(): void {
    for (const key of [...this.sizes.keys()]) this.storage.remove(key);
    this.sizes.clear();
    this.bytes = 0;
    this.mark(this.meta.o === 1, this.meta.r);
  }

  /** The client is closed: its entries stay for the next page, claimable at once. */
  release(): void {
    live.delete(this.owner);
    this.cancelRefresh?.();
    this.mark(true, this.meta.r);
  }

  /** While entries are held, the note is rewritten every REFRESH_MS, so that a live tab never looks stale to others. */
  private keepFresh(): void {
    this.cancelRefresh ??= this.schedule(() => {
      this.cancelRefresh = undefined;
      if (!this.sizes.size) return;
      if (this.meta.o === 0) this.mark(false, this.meta.r, true);
      this.keepFresh();
    }, REFRESH_MS);
  }

  private takeOver(publicKey: string): Claimed {
    const storage = this.storage;
    const prefix = `${PREFIX}${publicKey}:`;
    const now = Date.now();
    const verdicts = new Map<string, Meta | null>();
    const claimed: Claimed = { events: [], notBefore: 0 };
    const ids = new Set<unknown>();
    for (const key of storage.keys()) {
      if (!key.startsWith(prefix)) continue;
      const owner = key.slice(prefix.length, key.indexOf(':', prefix.length));
      if (live.has(owner)) continue;
      if (!verdicts.has(owner)) {
        const meta = readMeta(storage.get(META + owner));
        verdicts.set(owner, !meta || meta.o || meta.t < now - STALE_MS ? (meta ?? { t: 0, o: 1, r: 0 }) : null);
      }
      const meta = verdicts.get(owner);
      if (!meta) continue; // a live client in another tab
      claimed.notBefore = Math.max(claimed.notBefore, meta.r);
      const events = readEvents(storage.get(key));
      storage.remove(key);
      for (const event of events) {
        const id = event.data.idempotence_id;
        if (!ids.has(id)) {
          ids.add(id);
          claimed.events.push(event);
        }
      }
    }
    for (const [owner, meta] of verdicts) if (meta) storage.remove(META + owner);
    return claimed;
  }

  /** Without Web Locks: a marker with an owner and a time; a fresh one of another client means wait. */
  private claimWithMarker(run: () => void, tries: number): void {
    const marker = this.storage.get(LOCK);
    const [holder, at] = (marker ?? '').split(' ');
    if (holder && holder !== this.owner && Number(at) > Date.now() - FALLBACK_LOCK_MS && tries < 10) {
      setTimeout(() => this.claimWithMarker(run, tries + 1), FALLBACK_LOCK_MS / 4);
      return;
    }
    this.storage.set(LOCK, `${this.owner} ${Date.now()}`);
    try {
      run();
    } finally {
      this.storage.remove(LOCK);
    }
  }

  private write(key: string, value: string): boolean {
    // The note goes first, so that no other tab ever sees this client's entries without it (and takes them as orphans).
    if (key !== META + this.owner && this.meta.t < Date.now() - REFRESH_MS) this.mark(this.meta.o === 1, this.meta.r, true);
    if (this.storage.set(key, value)) return true;
    this.errors++;
    this.storage.remove(key); // a stale copy would re-send delivered events
    return false;
  }

  private drop(key: string): void {
    const size = this.sizes.get(key);
    if (size === undefined) return;
    this.sizes.delete(key);
    this.bytes -= size;
    this.storage.remove(key);
    if (!this.sizes.size) {
      this.mark(this.meta.o === 1, this.meta.r); // nothing kept: no note either
      this.cancelRefresh?.();
      this.cancelRefresh = undefined;
    }
  }
}

/** A storage change that says a client's page was left or frozen (its entries can be taken over). */
export function isLeftNote(key: string | null, value: string | null): boolean {
  return !!key?.startsWith(META) && readMeta(value)?.o === 1;
}

function readMeta(text: string | null): Meta | null {
  try {
    const meta = JSON.parse(text ?? '') as Meta;
    return typeof meta?.t === 'number' ? meta : null;
  } catch {
    return null;
  }
}

/** The events of an entry; a corrupt entry or event is left out. */
function readEvents(text: string | null): OdpWireEvent[] {
  try {
    const events = JSON.parse(text ?? '') as unknown;
    if (!Array.isArray(events)) return [];
    return events.filter(
      (event: OdpWireEvent) => typeof event?.action === 'string' && typeof event.data?.idempotence_id === 'string' && typeof event.identifiers === 'object',
    );
  } catch {
    return [];
  }
}
