import type { OdpErrorCode } from '../event/odp-error';
import type { DropReason, OdpStats } from '../types';

/**
 * The one place counters change. Events move queued → inFlight → (delivered | dropped), or
 * back to queued for a retry, so `accepted == delivered + dropped + queued + inFlight` holds.
 */
export class StatsTracker {
  accepted = 0;
  delivered = 0;
  queued = 0;
  inFlight = 0;
  requests = 0;
  retries = 0;
  private readonly droppedBy: Record<DropReason, number> = { retriesExhausted: 0, rejectedByServer: 0, tooLarge: 0, closed: 0 };
  private readonly rejectedBy: Partial<Record<OdpErrorCode, number>> = {};

  /** Events held (queued, waiting for a retry or in flight): what `queueSize` bounds. */
  get held(): number {
    return this.queued + this.inFlight;
  }

  accept(): void {
    this.accepted++;
    this.queued++;
  }

  reject(code: OdpErrorCode): void {
    this.rejectedBy[code] = (this.rejectedBy[code] ?? 0) + 1;
  }

  send(count: number, isRetry: boolean): void {
    this.queued -= count;
    this.inFlight += count;
    this.requests++;
    if (isRetry) this.retries++;
  }

  deliver(count: number): void {
    this.inFlight -= count;
    this.delivered += count;
  }

  /** A request failed and its events wait again. */
  requeue(count: number): void {
    this.inFlight -= count;
    this.queued += count;
  }

  drop(count: number, reason: DropReason, wasInFlight: boolean): void {
    if (wasInFlight) this.inFlight -= count;
    else this.queued -= count;
    this.droppedBy[reason] += count;
  }

  snapshot(): OdpStats {
    const droppedByReason = { ...this.droppedBy };
    const dropped = droppedByReason.retriesExhausted + droppedByReason.rejectedByServer + droppedByReason.tooLarge + droppedByReason.closed;
    return {
      accepted: this.accepted,
      delivered: this.delivered,
      dropped,
      droppedByReason,
      rejected: { ...this.rejectedBy },
      queued: this.queued,
      inFlight: this.inFlight,
      requests: this.requests,
      retries: this.retries,
    };
  }
}
