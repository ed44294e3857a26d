import type { SafeLogger } from '../core/logger';
import type { Dispatcher } from '../dispatcher/dispatcher';
import type { Transport } from '../transport/transport';
import type { OdpSettings, OdpWireEvent } from '../types';

/** Where a platform's storage keeps the user's opt-out choice ('1' out, '0' in). */
export const OPT_OUT_STORAGE_KEY = 'odp-sdk-opt-out';

/** What differs between runtimes; everything else is shared. */
export interface Platform {
  createTransport(options: { maxSockets: number }): Transport;
  /** Runs `fn` after `ms` (clamped to what timers hold); the timer never keeps a Node process alive. Returns a cancel function. */
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
  /** Bytes of request bodies that may be in flight with `keepalive` at once (browsers' budget); 0 where requests cannot outlive the host. */
  keepaliveBytes: number;
  /**
   * The host's lifecycle (a page's, a process's) driving one client's delivery: what to send when
   * the host goes, what to keep for the next one. Returns what the client tells it, or nothing.
   */
  attach?(client: ClientHandle): HostLifecycle | undefined;
}

/** What a platform's lifecycle code may see and do of one client. */
export interface ClientHandle {
  readonly dispatcher: Dispatcher;
  readonly logger: SafeLogger;
  /** Deadline of `close()` without one, in ms: also how long a host that is ending waits for delivery. */
  readonly closeTimeoutMs: number;
  /** Most bytes of JSON of undelivered events a journal may keep (per client). */
  readonly maxStoredBytes: number;
  /** Hands the partial batch to the dispatcher now. */
  cutBatch(): void;
  /** Accepted events not yet in a batch, and the ODP settings they will go out with. */
  pending(): { odp: OdpSettings | null; events: readonly OdpWireEvent[] };
  /** Events accepted and neither delivered nor dropped. */
  undelivered(): number;
  /** The user's opt-out choice changed elsewhere (another tab). */
  setOptOut(optedOut: boolean): void;
  /** Whether the user opted out: nothing may be restored or stored then. */
  optedOut(): boolean;
  /** Accepts again events an earlier host left undelivered, with their ids; returns how many were taken. */
  restore(odp: OdpSettings, events: readonly OdpWireEvent[]): number;
  /** Logs now what the client counted and has not said yet (the refusals' summary): the host is ending. */
  summarise(): void;
  /** Counts events claimed from storage while the user is opted out: accepted, then dropped as `optedOut`. */
  forgetClaimed(count: number): void;
}

/** What the client tells its host's lifecycle code. */
export interface HostLifecycle {
  /** The ODP settings in use (first known, or changed): time to take over what an earlier host left for them. */
  settings(odp: OdpSettings): void;
  /** Accepted events not yet in a batch changed (journal them, once per task). */
  queueChanged(): void;
  /** Writes that failed (quota, storage disabled), for `stats()`. */
  storageErrors?(): number;
  /** The user opted out: forget the events this client kept for later (and those gone hosts left, counted). */
  forget?(): void;
  /** The user chose (setOptOut) in this client: the host's other clients follow. */
  optOutChanged?(optedOut: boolean): void;
  /** The client is closed: stop listening. */
  detach(): void;
}

/** A string store that never throws: quota, privacy modes and corrupt entries are its problem. */
export interface KeyValueStorage {
  get(key: string): string | null;
  /** False when the value could not be stored (quota, storage disabled). */
  set(key: string, value: string): boolean;
  remove(key: string): void;
  /** The keys stored now (a snapshot). */
  keys(): string[];
}
