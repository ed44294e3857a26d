import type { SafeLogger } from '../core/logger';
import type { OdpErrorCode } from '../event/odp-error';
import type { Platform } from '../platform/platform';

/** How often counted refusals are summarised, at most: one line per minute of refusals, none while there are none. */
export const REFUSAL_SUMMARY_MS = 60_000;

/**
 * Makes refusals visible at the default log level without a line per event, for callers that
 * ignore `sendOdpEvent`'s return value. Each distinct refusal (its code and the shape of its
 * message, numbers and quoted values aside) is logged once; later ones are counted and summarised
 * in one line at most every {@link REFUSAL_SUMMARY_MS}, by a timer that runs only while there is
 * something to summarise (unref'd in Node, like every SDK timer). `optedOut` and `filtered` are the
 * host's own choices: logged at debug level only. A `beforeSend` that fails is a bug in the host's
 * code: error level; the rest warn. Every refusal is also a debug line.
 */
export class RefusalLog {
  private counts: Partial<Record<OdpErrorCode, number>> = {};
  private stopTimer: (() => void) | undefined;

  constructor(
    private readonly out: SafeLogger,
    private readonly timers: Platform['schedule'],
  ) {}

  report(code: OdpErrorCode, message: string): void {
    const line = `event refused: ${code}: ${message}`;
    this.out.debug(line);
    if (code === 'optedOut' || code === 'filtered') return;
    // Logged once per shape: numbers and quoted values aside.
    if (this.out.once(code === 'beforeSendFailed' ? 'error' : 'warn', line.replace(/"(?:[^"\\]|\\.)*"|\d+/g, '#'), line)) return;
    this.counts[code] = (this.counts[code] ?? 0) + 1;
    this.stopTimer ??= this.timers(() => this.summarise(), REFUSAL_SUMMARY_MS);
  }

  /** Logs what was counted since the last summary (now: close() calls it), and stops the timer. */
  summarise(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    const counts = Object.entries(this.counts);
    if (!counts.length) return;
    this.counts = {};
    const total = counts.reduce((sum, [, count]) => sum + count, 0);
    this.out.warn(`${total} more events refused (${counts.map(([code, count]) => `${code} ×${count}`).join(', ')})`);
  }
}
