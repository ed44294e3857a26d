import type { PageLifecycle } from '../platform';
import { createEventJournal } from './event-journal';

/**
 * Chromium lets keep-alive bodies in flight total 64 KiB for the whole page; this SDK leaves
 * 4 KiB of that to other scripts' beacons.
 */
const KEEPALIVE_BYTES = 61_440;

/** The page's lifecycle: `visibilitychange` and `pagehide` (never `unload`, which bars the bfcache), `pageshow`, `online`/`offline`. */
export function createPageLifecycle(): PageLifecycle | undefined {
  if (typeof document === 'undefined' || typeof addEventListener !== 'function') return undefined;
  let journal;
  try {
    journal = createEventJournal(localStorage, sessionStorage);
  } catch {
    // localStorage is unavailable (sandboxed iframe, privacy settings): nothing outlives the page.
  }
  return {
    keepaliveBytes: KEEPALIVE_BYTES,
    journal,
    online: () => navigator.onLine !== false,
    watch(handlers) {
      const listeners: Array<[EventTarget, string, (event: Event) => void]> = [
        [document, 'visibilitychange', () => document.visibilityState === 'hidden' && handlers.hide(false, false)],
        [window, 'pagehide', (event) => handlers.hide(true, (event as PageTransitionEvent).persisted)],
        [window, 'pageshow', (event) => (event as PageTransitionEvent).persisted && handlers.show()],
        [window, 'online', () => handlers.online(true)],
        [window, 'offline', () => handlers.online(false)],
      ];
      for (const [target, name, listener] of listeners) target.addEventListener(name, listener);
      return () => {
        for (const [target, name, listener] of listeners) target.removeEventListener(name, listener);
      };
    },
  };
}
