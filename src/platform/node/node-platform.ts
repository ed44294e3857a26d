import { randomUUID } from 'node:crypto';
import type { Platform } from '../platform';
import { createHttpTransport } from './http-transport';
import { createPQueueLane } from './p-queue-lane';

/** Node: `node:http` keep-alive transport, timers that never hold the process open. */
export const nodePlatform: Platform = {
  createTransport: createHttpTransport,
  createLane: createPQueueLane,
  schedule(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
  // Node always has randomUUID; uuid's fallbacks are for browsers' insecure contexts.
  newId: () => randomUUID(),
  holdOpen() {
    const keeper = setInterval(() => {}, 1 << 30);
    return () => clearInterval(keeper);
  },
};
