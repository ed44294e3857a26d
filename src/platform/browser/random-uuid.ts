/**
 * A UUID v4. `crypto.randomUUID` exists only in secure contexts (https:, localhost); an http: page
 * still has `crypto.getRandomValues`, which the fallback formats itself (RFC 9562: version 4, variant 10).
 * This replaces the `uuid` package in the browser bundles, where it cost more of the script-tag budget.
 */
export function randomUuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => (byte | 0x100).toString(16).slice(1)).join('');
  return hex.replace(/(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
}
