import type { KeyValueStorage } from '../platform';

/** `run`'s result, or `fallback` where it throws. */
function guarded<T>(fallback: T, run: () => T): T {
  try {
    return run();
  } catch {
    return fallback;
  }
}

/**
 * localStorage, when the page may use it (none without a window); every call is guarded (Safari
 * private mode, sandboxed iframes, quota).
 */
export function createLocalStorage(): KeyValueStorage | undefined {
  const store = guarded(undefined, () => window.localStorage);
  return store
    ? {
        get: (key) => guarded(null, () => store.getItem(key)),
        set: (key, value) => guarded(false, () => (store.setItem(key, value), true)),
        keys: () => guarded([], () => Object.keys(store)),
        remove: (key) => guarded(undefined, () => store.removeItem(key)),
      }
    : undefined;
}
