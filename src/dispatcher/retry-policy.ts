/** Delay before retry number `attempt` (1-based): doubling from `initialMs`, capped, with equal jitter. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A `Retry-After` value (delay-seconds or an HTTP date) in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  // Delay-seconds first: Date.parse would read '120' as a year. Both take surrounding space.
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isNaN(ms) ? undefined : Math.max(0, Math.round(ms));
}

/** What to do with a batch after the server answered `status`. */
export type Verdict = 'delivered' | 'retry' | 'split' | 'reject';

const RETRYABLE_4XX = [408, 425, 429];
/** 5xx answers that say the request itself cannot work (not implemented, HTTP version, network login): retrying cannot help. */
const FINAL_5XX = [501, 505, 511];

export function classifyStatus(status: number): Verdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 413) return 'split';
  if ((status >= 500 && !FINAL_5XX.includes(status)) || RETRYABLE_4XX.includes(status)) return 'retry';
  // Any other answer (4xx, and 1xx/3xx that fetch does not follow) cannot succeed as sent.
  return 'reject';
}
