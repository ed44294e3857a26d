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
  private total = 0;
  private cancel: (() => void) | undefined;

  constructor(
    private readonly logger: SafeLogger,
    private readonly schedule: Platform['schedule'],
  ) {}

  report(code: OdpErrorCode, message: string): void {
    if (this.logger.enabled('debug')) this.logger.debug(`event discarded: ${code}: ${message}`);
    if (code === 'optedOut' || code === 'filtered') return;
    const hint = code === 'sdkNotReady' ? ' (await client.onReady() before sending)' : '';
    const shape = `${code}:${message.replace(/"(?:[^"\\]|\\.)*"|\d+/g, '#')}`;
    const line = `event refused: ${code}: ${message}${hint} (logged once; the same refusal again is counted in stats().rejected and summarised)`;
    if (this.logger.once(code === 'beforeSendFailed' ? 'error' : 'warn', shape, line)) return;
    this.counts[code] = (this.counts[code] ?? 0) + 1;
    this.total++;
    this.cancel ??= this.schedule(() => this.summarise(), REFUSAL_SUMMARY_MS);
  }

  /** Logs what was counted since the last summary (now: close() calls it), and stops the timer. */
  summarise(): void {
    this.cancel?.();
    this.cancel = undefined;
    if (!this.total) return;
    const parts = Object.entries(this.counts).map(([code, count]) => `${code} ×${count}`);
    this.logger.warn(`${this.total} more events refused (${parts.join(', ')}); stats().rejected has every count`);
    this.counts = {};
    this.total = 0;
  }
}
