import type { OdpErrorCode } from '../event/odp-error';
import type { DropReason, OdpStats } from '../types';

/**
 * The one place counters change. Events move queued → inFlight → (delivered | dropped |
 * unconfirmed | handedOver), or back to queued for a retry, so `accepted == delivered + dropped +
 * queued + inFlight + unconfirmed + handedOver` holds. Tests check it against what reached the wire,
 * not against itself.
 */
export class StatsTracker {
  accepted = 0;
  delivered = 0;
  queued = 0;
  inFlight = 0;
  requests = 0;
  retries = 0;
  /** Handed to a browser as the page went, with no answer seen: still stored, sent again by the next page. */
  unconfirmed = 0;
  /** Left in storage for another page of the site to send (browsers): at close()'s deadline, or taken by another page. */
  handedOver = 0;
  readonly droppedBy: Record<DropReason, number> = { retriesExhausted: 0, rejectedByServer: 0, tooLarge: 0, closed: 0, optedOut: 0, waitUntilTimeout: 0 };
  private readonly rejectedBy: Partial<Record<OdpErrorCode, number>> = {};

  /** Events held (queued, waiting for a retry, in flight or unconfirmed): what `queueSize` bounds. */
  get held(): number {
    return this.queued + this.inFlight + this.unconfirmed;
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

  /** In flight as the host went, and no answer seen. */
  unconfirm(count: number): void {
    this.inFlight -= count;
    this.unconfirmed += count;
  }

  /** Unconfirmed events are sent again. */
  reconsider(count: number): void {
    this.unconfirmed -= count;
    this.queued += count;
  }

  /** Left to another page of the site through storage; `from`: where the events were counted until now. */
  handOver(count: number, from: string): void {
    this.leave(count, from);
    this.handedOver += count;
  }

  /** `from`: where the events were counted until now. */
  drop(count: number, reason: DropReason, from: string): void {
    this.leave(count, from);
    this.droppedBy[reason] += count;
  }

  private leave(count: number, from: string): void {
    this[from === 'inFlight' || from === 'unconfirmed' ? from : 'queued'] -= count;
  }

  snapshot(): OdpStats {
    // Every field but these two is a counter that stats() reports as it is.
    const { droppedBy, rejectedBy, ...counts } = this;
    let dropped = 0;
    for (const reason in droppedBy) dropped += droppedBy[reason as DropReason];
    return { ...counts, dropped, droppedByReason: { ...droppedBy }, rejected: { ...rejectedBy }, pending: this.queued + this.inFlight };
  }
}
