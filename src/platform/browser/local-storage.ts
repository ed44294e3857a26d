import type { KeyValueStorage } from '../platform';

/** localStorage, when the page may use it; every call is guarded (Safari private mode, sandboxed iframes, quota). */
export function createLocalStorage(): KeyValueStorage | undefined {
  let store: Storage;
  try {
    store = window.localStorage;
    if (!store) return undefined;
  } catch {
    return undefined;
  }
  return {
    get(key) {
      try {
        return store.getItem(key);
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        store.setItem(key, value);
        return true;
      } catch {
        return false;
      }
    },
    keys() {
      try {
        return Object.keys(store);
      } catch {
        return [];
      }
    },
    remove(key) {
      try {
        store.removeItem(key);
      } catch {
        // Nothing to undo.
      }
    },
  };
}
