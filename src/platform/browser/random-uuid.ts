/**
 * A UUID v4. `crypto.randomUUID` exists only in secure contexts (https:, localhost); an http: page
 * still has `crypto.getRandomValues`, which the fallback formats itself (RFC 9562: version 4, variant 10).
 * This replaces the `uuid` package in the browser bundles, where it cost more of the script-tag budget.
 */
export function randomUuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // One random byte per hex digit, of which `x` takes 4 bits and `y` (the variant, 10xx) 2.
  const random = crypto.getRandomValues(new Uint8Array(31));
  let i = 0;
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (digit) => (digit === 'x' ? random[i++]! & 15 : (random[i++]! & 3) | 8).toString(16));
}
