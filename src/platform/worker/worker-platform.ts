import { timerDelay } from '../../core/values';
import { createFetchTransport } from '../../transport/fetch-transport';
import type { Platform } from '../platform';

/** Deno's global; its timers are numbers that `Deno.unrefTimer` unrefs. */
declare const Deno: { unrefTimer(id: number): void } | undefined;

/**
 * Runtimes with web APIs and no page: Cloudflare Workers (workerd), Vercel Edge, Deno. `fetch`,
 * `crypto.randomUUID` (every one of them is a secure context): no Node built-in,
 * no localStorage, no page lifecycle. Timers are unref'd where the runtime can (Deno,
 * and Bun's or Node's objects), so a script ends once its work is done, as on Node.
 */
export const workerPlatform: Platform = {
  // Looked up per call: a test or the host may replace the global fetch after the SDK loaded.
  createTransport: () => createFetchTransport((input, init) => fetch(input, init)),
  schedule(fn, ms) {
    const timer: unknown = setTimeout(fn, timerDelay(ms));
    unref(timer);
    return () => clearTimeout(timer as number);
  },
  newId: () => crypto.randomUUID(),
  holdOpen() {
    // A ref'd timer: while flush() or close() is awaited, an unref'd retry timer must not let the script end.
    const keeper = setInterval(() => {}, 1 << 30);
    return () => clearInterval(keeper);
  },
  // A request cannot outlive a worker's invocation: waitUntil is the way (see the waitUntil option).
  keepaliveBytes: 0,
};

function unref(timer: unknown): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer) (timer as { unref(): void }).unref();
  else if (typeof timer === 'number' && typeof Deno !== 'undefined') Deno.unrefTimer(timer);
}
