import type { Platform } from '../platform/platform';

/**
 * Decides when a partial batch goes out: `intervalMs` after the first event enters an empty
 * queue. With an interval of 0 it goes at the end of the current task, so a synchronous burst
 * still shares requests. No timer runs while the queue is empty.
 */
export class FlushScheduler {
  private cancelTimer: (() => void) | undefined;
  private microtaskArmed = false;

  constructor(
    private readonly intervalMs: number,
    private readonly schedule: Platform['schedule'],
    private readonly onDue: () => void,
  ) {}

  /** The queue went from empty to one event. */
  arm(): void {
    if (this.intervalMs === 0) {
      if (this.microtaskArmed) return;
      this.microtaskArmed = true;
      queueMicrotask(() => {
        if (!this.microtaskArmed) return;
        this.microtaskArmed = false;
        this.onDue();
      });
      return;
    }
    if (this.cancelTimer) return;
    this.cancelTimer = this.schedule(() => {
      this.cancelTimer = undefined;
      this.onDue();
    }, this.intervalMs);
  }

  /** The queue was emptied some other way (full batch, flush, close). */
  cancel(): void {
    this.microtaskArmed = false;
    if (this.cancelTimer) {
      this.cancelTimer();
      this.cancelTimer = undefined;
    }
  }
}
