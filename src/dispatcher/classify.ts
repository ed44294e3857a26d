/** What to do with a batch after the server answered `status`. */
export type Verdict = 'delivered' | 'retry' | 'split' | 'reject';

const RETRYABLE_4XX = new Set([408, 425, 429]);

export function classifyStatus(status: number): Verdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 413) return 'split';
  if (status >= 500 || RETRYABLE_4XX.has(status)) return 'retry';
  // Any other answer (4xx, and 1xx/3xx that fetch does not follow) cannot succeed as sent.
  return 'reject';
}
