import type { Transport } from '../transport/transport';

/** What differs between runtimes; everything else is shared. */
export interface Platform {
  createTransport(options: { maxSockets: number }): Transport;
  /** Runs `fn` after `ms`; the timer never keeps a Node process alive. Returns a cancel function. */
  schedule(fn: () => void, ms: number): () => void;
  /** A fresh UUID v4. */
  newId(): string;
}
