/** UTF-8 byte length without allocating an encoded copy. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // 2 bytes below U+0800, else 3 (a lone surrogate is sent as U+FFFD: 3 too)...
    if (code >= 0x80) bytes += code < 0x800 ? 1 : 2;
    // ...and a surrogate pair 4 for its 2 units: the low one adds nothing.
    if (code >= 0xd800 && code < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
  }
  return bytes;
}

/** A non-null object that is not an array: what JSON calls an object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return !Array.isArray(value);
  } catch {
    return false; // a revoked proxy: nothing can be read from it
  }
}

/** Timers hold a signed 32-bit count of ms: a longer delay would fire at once, so it is cut to this. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay that every runtime's `setTimeout` takes as meant: 0 to {@link MAX_TIMER_MS}. */
export function timerDelay(ms: number): number {
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms > 0 ? ms : 0;
}
