import type { Transport } from '../transport/transport';

/** What differs between runtimes; everything else is shared. */
export interface Platform {
  createTransport(options: { maxSockets: number }): Transport;
  /** Runs `fn` after `ms`; the timer never keeps a Node process alive. Returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
  /** A fresh UUID v4. */
  newId(): string;
  /** Storage that outlives the page (browsers' localStorage); absent where there is none. */
  storage?: KeyValueStorage;
}

/** A string store that never throws: quota, privacy modes and corrupt entries are its problem. */
export interface KeyValueStorage {
  get(key: string): string | null;
  /** False when the value could not be stored (quota, storage disabled). */
  set(key: string, value: string): boolean;
  remove(key: string): void;
}
