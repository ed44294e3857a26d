import { utf8Length } from '../core/values';
import type { OdpSettings, OdpWireEvent } from '../types';
import { Dispatcher, serialise, type Job } from './dispatcher';

/** ODP's Events API takes at most 500 objects per request. */
export const MAX_REQUEST_EVENTS = 500;
/**
 * The most bytes of JSON a merged request carries: half of the 1 MiB that common proxies accept
 * by default (nginx's `client_max_body_size`), room for 500 events of ~1 KiB, and a bound on what
 * each slot holds. A single batch larger than this still goes alone (a 413 splits it).
 */
export const MAX_REQUEST_BYTES = 524_288;
/** Slots a backlog of full requests may grow to while the server keeps up. */
const GROWN_SLOTS = 4;

/** Request slots at most, for `maxConcurrentRequests` (what the transport must allow at once). */
export function maxSlots(maxConcurrentRequests: number): number {
  return maxConcurrentRequests > 1 ? Math.max(maxConcurrentRequests, GROWN_SLOTS) : 1;
}

/**
 * The dispatcher of the Node and runtime builds (servers, functions): requests grow with the
 * backlog. While another slot is free a batch goes alone, as cut (low latency at low rates); when
 * this slot is the last free one, the batches waiting behind busy slots join its request. Merging
 * waits for a 2xx: a failing server gets one batch at a time (a batch that runs out of retries
 * takes its own events with it, not 500), and the backlog merges once it answers again. Pages
 * rarely have such a backlog, so the browser builds leave this out (each batch is one request).
 */
export class MergingDispatcher extends Dispatcher {
  static override sockets(maxConcurrentRequests: number): number {
    return maxSlots(maxConcurrentRequests);
  }

  protected override prepare(job: Job, inSlot: boolean): { job: Job; body: string } {
    if (inSlot && job.fresh && this.busy + 1 >= this.slots && this.healthy) {
      job.fresh = false;
      ({ job, slots: this.slots } = this.gather(job));
    }
    return this.fit(job);
  }

  /**
   * The next request in `job`'s slot, when this slot is the last free one: the batches waiting
   * behind busy slots join it, in the order they were cut, up to {@link MAX_REQUEST_EVENTS}, so
   * that throughput grows with the backlog rather than with sockets. When a full request's worth
   * still waits and the server keeps up, one more slot opens (up to {@link maxSlots});
   * when nothing waits, it goes back to `maxConcurrentRequests`.
   */
  private gather(job: Job): { job: Job; slots: number } {
    const parts = [job];
    let events = job.events.length;
    let next: Job | undefined;
    let full = false;
    while ((next = this.queue[0])) {
      if (next.state !== 'queued') {
        this.queue.shift(); // moved on meanwhile
        continue;
      }
      if (!next.fresh || !sameOdp(next.odp, job.odp)) break;
      if (events + next.events.length > MAX_REQUEST_EVENTS) {
        full = true;
        break;
      }
      this.queue.shift();
      next.fresh = false;
      parts.push(next);
      events += next.events.length;
    }
    const base = this.options.maxConcurrentRequests;
    const slots = full && this.healthy ? Math.min(this.slots + 1, maxSlots(base)) : next ? this.slots : base;
    return { job: parts.length === 1 ? job : this.merge(parts), slots };
  }

  /** One job for the events of `parts` (never sent, in order): its promise settles theirs. */
  private merge(parts: Job[]): Job {
    const events: OdpWireEvent[] = [];
    for (const part of parts) {
      for (const event of part.events) events.push(event);
      this.outstanding.delete(part);
      part.state = 'done';
      this.observer?.removed(part);
    }
    const merged = this.createJob(events, parts[0]!.odp);
    merged.capped = true;
    void merged.done.then(() => {
      for (const part of parts) part.settle();
    });
    return merged;
  }

  /**
   * The body of `job`'s next request. A merged request over {@link MAX_REQUEST_BYTES} (events
   * larger than most) goes in halves, the second queued right behind the first, until each fits
   * or is a single event.
   */
  private fit(job: Job): { job: Job; body: string } {
    const cap = MAX_REQUEST_BYTES;
    for (;;) {
      const body = serialise(job, this.newId);
      // UTF-16 length times 3 bounds the UTF-8 bytes: most bodies need no count.
      if (!job.capped || job.events.length === 1 || body.length * 3 <= cap || utf8Length(body) <= cap) return { job, body };
      const middle = Math.ceil(job.events.length / 2);
      const [first, second] = this.replace(job, [job.events.slice(0, middle), job.events.slice(middle)]);
      this.enqueue(second!);
      job = first!;
    }
  }

}

function sameOdp(a: OdpSettings, b: OdpSettings): boolean {
  return a === b || (a.host === b.host && a.publicKey === b.publicKey);
}
