import type { KeyValueStorage } from '../platform/platform';

/** Where browsers keep the visitor id; the same key Optimizely's SDKs use. */
export const VUID_STORAGE_KEY = 'optimizely-vuid';
const VUID_PREFIX = 'vuid_';
const VUID_LENGTH = 32;
const VUID_PATTERN = /^vuid_[0-9a-f]{27}$/;

/** `"vuid_"` + a UUID v4 without dashes, cut to 32 characters. */
export function createVuid(newId: () => string): string {
  return (VUID_PREFIX + newId().replace(/-/g, '')).slice(0, VUID_LENGTH);
}

export function isVuid(value: unknown): value is string {
  return typeof value === 'string' && VUID_PATTERN.test(value);
}

/** The stored visitor id, or a new one (stored when storage allows). */
export function loadOrCreateVuid(storage: KeyValueStorage | undefined, newId: () => string): string {
  const stored = storage?.get(VUID_STORAGE_KEY);
  if (isVuid(stored)) return stored;
  const vuid = createVuid(newId);
  storage?.set(VUID_STORAGE_KEY, vuid);
  return vuid;
}
