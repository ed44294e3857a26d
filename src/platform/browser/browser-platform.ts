import { timerDelay } from '../../core/values';
import { createFetchTransport } from '../../transport/fetch-transport';
import type { Platform } from '../platform';
import { createLocalStorage } from './local-storage';
import { attachPage, KEEPALIVE_BYTES } from './page-lifecycle';
import { randomUuid } from './random-uuid';

let platform: Platform | undefined;

/**
 * Browsers: the page's own `fetch` (the browser limits connections itself), the page lifecycle
 * and the localStorage journal. Made on first use, so importing the SDK touches no storage and
 * adds no listener.
 */
export function browserPlatform(): Platform {
  if (platform) return platform;
  const storage = createLocalStorage();
  const schedule = (fn: () => void, ms: number) => {
    const timer = setTimeout(fn, timerDelay(ms));
    return () => clearTimeout(timer);
  };
  platform = {
    createTransport: () => createFetchTransport(),
    schedule,
    newId: randomUuid,
    storage,
    keepaliveBytes: KEEPALIVE_BYTES,
    attach: (client) => attachPage(client, storage, schedule),
  };
  return platform;
}
