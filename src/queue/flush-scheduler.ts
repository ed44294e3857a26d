import type { Platform } from '../platform/platform';

/**
 * Decides when a partial batch goes out: `intervalMs` after the first event enters an empty
 * queue. With an interval of 0 it goes at the end of the current task, so a synchronous burst
 * still shares requests. A batch cut because it is full leaves the timer running: the next
 * partial batch takes it over (re-armed for what is left of its interval) instead of costing a
 * new timer per batch; a timer that finds the queue empty ends there. No timer runs while idle.
 */
export class FlushScheduler {
  private cancelTimer: (() => void) | undefined;
  private microtaskArmed = false;
  /** When the first event of the partial batch came (ms since the epoch). */
  private firstAt = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly schedule: Platform['schedule'],
    private readonly onDue: () => void,
    private readonly hasEvents: () => boolean,
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
    this.firstAt = Date.now();
    if (!this.cancelTimer) this.start(this.intervalMs);
  }

  /** The queue was emptied some other way than by a full batch (flush, close, opt-out). */
  cancel(): void {
    this.microtaskArmed = false;
    if (this.cancelTimer) {
      this.cancelTimer();
      this.cancelTimer = undefined;
    }
  }

  private start(ms: number): void {
    this.cancelTimer = this.schedule(() => {
      this.cancelTimer = undefined;
      if (!this.hasEvents()) return;
      const left = this.firstAt + this.intervalMs - Date.now();
      if (left > 0) this.start(left);
      else this.onDue();
    }, ms);
  }
}
