import type { Emitter } from '../core/emitter';
import type { SafeLogger } from '../core/logger';
import type { Platform } from '../platform/platform';
import type { StatsTracker } from '../core/stats-tracker';
import { TransportError, type HttpResponse, type Transport } from '../transport/transport';
import { utf8Length } from '../core/values';
import type { DropReason, OdpClientEvents, OdpSettings, OdpWireEvent } from '../types';
import { backoffDelay, classifyStatus, parseRetryAfter } from './retry-policy';
import type { Lane } from './lane';

export interface DispatcherOptions {
  requestTimeoutMs: number;
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Browsers: bytes of bodies that may be in flight as keep-alive requests (they outlive the page); 0 or absent: none. */
  keepaliveBytes?: number;
  compression?: 'gzip' | 'none';
}

/** A batch on its way: it keeps its body and its ODP settings across retries. */
interface Job {
  events: OdpWireEvent[];
  odp: OdpSettings;
  /** Failed attempts so far. */
  failures: number;
  body: string | undefined;
  state: 'queued' | 'inFlight' | 'waiting' | 'done';
  cancelWait: (() => void) | undefined;
  /** In flight as a keep-alive request: the browser delivers it even if the page goes. */
  keepalive: boolean;
  done: Promise<void>;
  settle: () => void;
}

const PRIORITY_NEW = 0;
/** While close() runs, retries are pulled in towards its deadline, but never closer together than this. */
const CLOSING_RETRY_FLOOR_MS = 50;
const BODY_EXCERPT = 200;

/**
 * Sends batches through the platform's lane (`maxConcurrentRequests` slots) and owns the
 * retry policy: exponential backoff with jitter for the whole lane (a failing server gets one
 * request per slot per backoff, not a storm), `Retry-After` honoured, 413 split, other 4xx dropped.
 */
export class Dispatcher {
  private readonly outstanding = new Set<Job>();
  private waiting = 0;
  /** Retries and split halves jump the lane: each gets a higher priority than anything queued. */
  private frontPriority = PRIORITY_NEW;
  private consecutiveFailures = 0;
  private abandoned = false;
  /** When close() gives up (ms since the epoch); retries are pulled in before it. */
  private deadlineAt = Infinity;
  private keepaliveInFlight = 0;
  /** `pagehide`s so far: a keep-alive request that fails after one was handed to the browser. */
  private pageHides = 0;
  private offline = false;
  /** The page was left: only keep-alive requests may start (a plain one could be cut off, or duplicate the journal). */
  private left = false;
  /** Called when the set of undelivered events changes (browsers keep it in a journal). */
  onChange: (() => void) | undefined;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly transport: Transport,
    private readonly schedule: Platform['schedule'],
    private readonly stats: StatsTracker,
    private readonly logger: SafeLogger,
    private readonly emitter: Emitter<OdpClientEvents>,
    private readonly lane: Lane,
  ) {}

  /** Takes a batch of accepted (already counted as queued) events. */
  dispatch(events: OdpWireEvent[], odp: OdpSettings): void {
    this.enqueue(this.createJob(events, odp), PRIORITY_NEW);
    this.onChange?.();
  }

  /**
   * Browsers, the page is hidden or left: batches waiting for a slot or a retry go out now as
   * keep-alive requests, cut to fit the budget; what does not fit stays, in order (the journal keeps it).
   */
  pageHidden(leaving: boolean): void {
    if (leaving) {
      this.pageHides++;
      this.left = true;
      this.lane.pause();
    }
    const budget = this.options.keepaliveBytes ?? 0;
    if (this.offline || !budget) return;
    for (const job of [...this.outstanding]) {
      if (job.state !== 'queued' && job.state !== 'waiting') continue;
      let bytes = this.keepaliveInFlight + 1;
      let fit = 0;
      for (const event of job.events) {
        bytes += utf8Length(JSON.stringify(event)) + 1; // the event and its ',' or ']'
        if (bytes > budget) break;
        fit++;
      }
      if (!fit) break;
      if (job.state === 'waiting') {
        job.cancelWait?.();
        this.waiting--;
      }
      job.state = 'queued';
      if (fit < job.events.length) {
        this.enqueue(this.createJob(job.events.slice(fit), job.odp), ++this.frontPriority);
        job.events = job.events.slice(0, fit);
        job.body = undefined;
      }
      void this.send(job); // a copy of it may still sit in the lane: send() skips it then
    }
    this.startLane();
  }

  /** Browsers: the page came back from the back/forward cache. */
  pageShown(): void {
    this.left = false;
    this.startLane();
  }

  /** Browsers: no request goes out while offline (no retry storm); back online, what waits goes at once. */
  setOnline(online: boolean): void {
    this.offline = !online;
    if (!online) return this.lane.pause();
    this.consecutiveFailures = 0;
    for (const job of [...this.outstanding]) if (job.state === 'waiting') this.resume(job);
    this.startLane();
  }

  private startLane(): void {
    if (!this.waiting && !this.offline && !this.left) this.lane.start();
  }

  /** Undelivered events not handed to a keep-alive request, with their ODP settings. */
  held(): Array<{ odp: OdpSettings; events: OdpWireEvent[] }> {
    return [...this.outstanding].filter((job) => !job.keepalive);
  }

  /** Resolves once every batch dispatched so far is delivered or dropped. */
  async flush(): Promise<void> {
    const pending = [...this.outstanding].map((job) => job.done);
    await Promise.all(pending);
  }

  /**
   * Sends what is left, waiting retries at once, and gives up at the deadline:
   * what is undelivered then is dropped as `closed`. Resolves when nothing is outstanding.
   */
  async close(timeoutMs: number): Promise<void> {
    this.deadlineAt = Date.now() + timeoutMs;
    for (const job of this.outstanding) {
      if (job.state === 'waiting') this.resume(job);
    }
    let cancelDeadline: (() => void) | undefined;
    const deadline = new Promise<void>((resolve) => {
      cancelDeadline = this.schedule(resolve, timeoutMs);
    });
    await Promise.race([this.flush(), deadline]);
    cancelDeadline?.();
    this.abandon();
    await this.flush();
    this.transport.close();
  }

  private createJob(events: OdpWireEvent[], odp: OdpSettings): Job {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const job: Job = { events, odp, failures: 0, body: undefined, state: 'queued', cancelWait: undefined, keepalive: false, done, settle };
    this.outstanding.add(job);
    return job;
  }

  private enqueue(job: Job, priority: number): void {
    job.state = 'queued';
    this.lane.add(() => this.send(job), priority);
  }

  private async send(job: Job): Promise<void> {
    if (job.state !== 'queued') return; // dropped while it waited for a slot
    job.state = 'inFlight';
    const count = job.events.length;
    this.stats.send(count, job.failures > 0);
    job.body ??= JSON.stringify(job.events);
    const bytes = this.options.keepaliveBytes ? utf8Length(job.body) : 0;
    const keepalive = bytes > 0 && this.keepaliveInFlight + bytes <= this.options.keepaliveBytes!;
    const hides = this.pageHides;
    if (keepalive) {
      this.keepaliveInFlight += bytes;
      job.keepalive = true;
      this.onChange?.();
    }
    let response: HttpResponse | undefined;
    let failure: TransportError | undefined;
    try {
      response = await this.transport.request({
        method: 'POST',
        url: `${job.odp.host}/v3/events`,
        headers: { 'content-type': 'application/json', 'x-api-key': job.odp.publicKey },
        body: job.body,
        timeoutMs: this.options.requestTimeoutMs,
        keepalive,
        compression: this.options.compression,
      });
    } catch (error) {
      failure = error instanceof TransportError ? error : new TransportError('network', String(error));
    }
    if (keepalive) this.keepaliveInFlight -= bytes;
    job.keepalive = false;
    if (job.state !== 'inFlight') return; // abandoned at the deadline meanwhile
    if (!response && keepalive && hides !== this.pageHides) {
      // The page was left meanwhile: the browser still delivers it (Chromium), so a retry would duplicate it.
      this.stats.deliver(count);
      this.finish(job);
      this.logger.info(`handed ${count} events to the browser as the page was left`);
      return;
    }
    if (!response) {
      this.fail(job, `${failure?.kind ?? 'network'} error: ${failure?.message ?? 'unknown'}`, undefined, undefined);
      return;
    }
    const status = response.status;
    switch (classifyStatus(status)) {
      case 'delivered':
        this.consecutiveFailures = 0;
        this.stats.deliver(count);
        this.finish(job);
        if (this.logger.enabled('debug')) this.logger.debug(`delivered ${count} events (${status})`);
        this.emitter.emit('delivered', { count, status });
        return;
      case 'split':
        this.split(job);
        return;
      case 'retry':
        this.fail(job, `status ${status}`, status, parseRetryAfter(response.header('retry-after')));
        return;
      default: {
        const excerpt = response.body.slice(0, BODY_EXCERPT);
        this.drop(job, 'rejectedByServer', status, `ODP rejected a batch of ${count} events with status ${status}: ${excerpt}`);
      }
    }
  }

  /** A retryable failure: back off the lane and try again, or give up. */
  private fail(job: Job, why: string, status: number | undefined, retryAfterMs: number | undefined): void {
    job.failures++;
    if (this.abandoned) {
      this.drop(job, 'closed', status, `${job.events.length} events were not delivered before close() ended (${why})`);
      return;
    }
    if (job.failures > this.options.maxRetries) {
      this.drop(job, 'retriesExhausted', status, `gave up on ${job.events.length} events after ${job.failures} attempts (${why})`);
      return;
    }
    this.consecutiveFailures++;
    const backoff = backoffDelay(this.consecutiveFailures, this.options.initialBackoffMs, this.options.maxBackoffMs);
    let delay = Math.max(backoff, retryAfterMs ?? 0);
    const remaining = this.deadlineAt - Date.now();
    if (delay > remaining) {
      // A retry after close()'s deadline could only be dropped: try halfway to it instead, yet
      // not in a rush that burns the retry budget, and never sooner than Retry-After allows.
      delay = Math.round(Math.max(remaining / 2, Math.min(this.options.initialBackoffMs, CLOSING_RETRY_FLOOR_MS), retryAfterMs ?? 0));
    }
    this.logger.info(`sending ${job.events.length} events failed (${why}); retry ${job.failures} in ${delay} ms`);
    this.stats.requeue(job.events.length);
    job.state = 'waiting';
    this.waiting++;
    this.lane.pause();
    job.cancelWait = this.schedule(() => this.resume(job), delay);
    this.onChange?.();
  }

  private resume(job: Job): void {
    job.cancelWait?.();
    job.cancelWait = undefined;
    this.waiting--;
    this.enqueue(job, ++this.frontPriority);
    this.startLane();
  }

  /** 413: halve the batch; a single event that is still too large is dropped. */
  private split(job: Job): void {
    const count = job.events.length;
    if (count === 1) {
      this.drop(job, 'tooLarge', 413, 'ODP answered 413 to a single event: it is too large and was dropped');
      return;
    }
    this.stats.requeue(count);
    job.state = 'done';
    this.outstanding.delete(job);
    const middle = Math.ceil(count / 2);
    const halves = [job.events.slice(0, middle), job.events.slice(middle)].map((events) => this.createJob(events, job.odp));
    // Second half in first, so that the first half gets the higher priority and leads.
    this.enqueue(halves[1]!, ++this.frontPriority);
    this.enqueue(halves[0]!, ++this.frontPriority);
    void Promise.all(halves.map((half) => half.done)).then(job.settle);
  }

  private drop(job: Job, reason: DropReason, status: number | undefined, message: string): void {
    const count = job.events.length;
    this.stats.drop(count, reason, job.state === 'inFlight');
    this.finish(job);
    this.logger.error(message);
    this.emitter.emit('dropped', { reason, count, status, message });
  }

  private finish(job: Job): void {
    job.state = 'done';
    job.body = undefined; // the lane may hold the job a little longer; its body need not wait with it
    this.outstanding.delete(job);
    job.settle();
    this.onChange?.();
  }

  /** The deadline passed: drop what waits, abort what is in flight. */
  private abandon(): void {
    if (this.outstanding.size === 0) return;
    this.abandoned = true;
    this.lane.clear();
    for (const job of [...this.outstanding]) {
      if (job.state === 'waiting') {
        job.cancelWait?.();
        this.waiting--;
      }
      if (job.state !== 'inFlight') {
        this.drop(job, 'closed', undefined, `${job.events.length} events were not delivered before close() ended`);
      }
    }
    // In-flight requests reject as aborted and are dropped as closed by fail().
    this.transport.close();
  }
}
