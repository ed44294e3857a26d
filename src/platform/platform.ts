import type { Lane } from '../dispatcher/lane';
import type { Transport } from '../transport/transport';
import type { OdpWireEvent } from '../types';

/** What differs between runtimes; everything else is shared. */
export interface Platform {
  createTransport(options: { maxSockets: number }): Transport;
  /** Where batches wait for one of `concurrency` request slots. */
  createLane(concurrency: number): Lane;
  /** Runs `fn` after `ms`; the timer never keeps a Node process alive. Returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
  /** A fresh UUID v4. */
  newId(): string;
  /**
   * Keeps the process alive until the returned function is called: while the user awaits
   * `flush()` or `close()`, a retry's unref'd timer must not let Node exit mid-delivery.
   */
  holdOpen?(): () => void;
  /** Storage that outlives the page (browsers' localStorage); absent where there is none. */
  storage?: KeyValueStorage;
  /** Browsers only: the page's lifecycle, connectivity and a journal of undelivered events. */
  page?: PageLifecycle;
}

/** What a page tells the client, and what the client keeps across page loads. */
export interface PageLifecycle {
  /** Bytes of request bodies that may be in flight with `keepalive` at once (the browser's budget). */
  keepaliveBytes: number;
  /** False while the browser reports no network. */
  online(): boolean;
  /** Subscribes to the page's events; returns a function that unsubscribes. */
  watch(handlers: PageHandlers): () => void;
  /** Where undelivered events outlive the page; absent when storage is unavailable. */
  journal?: EventJournal;
}

export interface PageHandlers {
  /** The page was hidden (`leaving`: `pagehide`; `persisted`: into the back/forward cache). */
  hide(leaving: boolean, persisted: boolean): void;
  /** The page came back from the back/forward cache. */
  show(): void;
  online(online: boolean): void;
}

/** Undelivered events by ODP public key, kept for the next page load. Never throws. */
export interface EventJournal {
  /** Takes (and removes from storage) the events this page should send: its own, and those of pages gone for good. */
  claim(publicKey: string): OdpWireEvent[];
  /** Replaces this page's stored events, at most `maxBytes` of JSON per key; `leaving` lets other pages claim them. */
  save(events: Record<string, OdpWireEvent[]>, maxBytes: number, leaving: boolean): void;
  /** Writes that failed (quota, storage disabled). */
  errors: number;
}

/** A string store that never throws: quota, privacy modes and corrupt entries are its problem. */
export interface KeyValueStorage {
  get(key: string): string | null;
  /** False when the value could not be stored (quota, storage disabled). */
  set(key: string, value: string): boolean;
  remove(key: string): void;
}
