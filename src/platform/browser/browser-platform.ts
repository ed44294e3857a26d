import { v4 as uuidv4 } from 'uuid';
import { PriorityLane } from '../../dispatcher/lane';
import { createFetchTransport } from '../../transport/fetch-transport';
import type { Platform } from '../platform';
import { createLocalStorage } from './local-storage';
import { createPageLifecycle } from './page-lifecycle';

let platform: Platform | undefined;

/**
 * Browsers: the page's own `fetch` (the browser limits connections itself), and a small lane
 * instead of p-queue, which would take 1.4 KB of the script-tag bundle's 10 KB budget. Made on
 * first use, so importing the SDK touches no storage and adds no listener.
 */
export function browserPlatform(): Platform {
  platform ??= {
    createTransport: () => createFetchTransport((input, init) => fetch(input, init)),
    createLane: (concurrency) => new PriorityLane(concurrency),
    schedule(fn, ms) {
      const timer = setTimeout(fn, ms);
      return () => clearTimeout(timer);
    },
    newId: () => uuidv4(),
    storage: typeof window === 'undefined' ? undefined : createLocalStorage(),
    page: createPageLifecycle(),
  };
  return platform;
}
