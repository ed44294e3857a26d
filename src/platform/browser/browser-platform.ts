import { v4 as uuidv4 } from 'uuid';
import { createFetchTransport } from '../../transport/fetch-transport';
import type { Platform } from '../platform';
import { createLocalStorage } from './local-storage';
import { createPageLifecycle } from './page-lifecycle';

/** Browsers: the page's own `fetch` (the browser limits connections itself). */
export const browserPlatform: Platform = {
  createTransport: () => createFetchTransport((input, init) => fetch(input, init)),
  schedule(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  newId: () => uuidv4(),
  storage: typeof window === 'undefined' ? undefined : createLocalStorage(),
  page: createPageLifecycle(),
};
