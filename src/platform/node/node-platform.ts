import { v4 as uuidv4 } from 'uuid';
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
  newId: () => uuidv4(),
  holdOpen() {
    const keeper = setInterval(() => {}, 1 << 30);
    return () => clearInterval(keeper);
  },
};
