import PQueue from 'p-queue';
import type { Emitter } from '../core/emitter';
import type { SafeLogger } from '../core/logger';
import type { Platform } from '../platform/platform';
import type { StatsTracker } from '../stats/stats-tracker';
import { TransportError, type HttpResponse, type Transport } from '../transport/transport';
import type { DropReason, OdpClientEvents, OdpSettings, OdpWireEvent } from '../types';
import { backoffDelay, parseRetryAfter } from './backoff';
import { classifyStatus } from './classify';

export interface DispatcherOptions {
  maxConcurrentRequests: number;
  requestTimeoutMs: number;
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
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
  done: Promise<void>;
  settle: () => void;
}

const PRIORITY_NEW = 0;
const BODY_EXCERPT = 200;

/**
 * Sends batches through one p-queue lane (`maxConcurrentRequests` at a time) and owns the
 * retry policy: exponential backoff with jitter for the whole lane (a failing server gets one
 * request per backoff, not a storm), `Retry-After` honoured, 413 split, other 4xx dropped.
 */
export class Dispatcher {
  private readonly lane: PQueue;
  private readonly outstanding = new Set<Job>();
  private waiting = 0;
  /** Retries and split halves jump the lane: each gets a higher priority than anything queued. */
  private frontPriority = PRIORITY_NEW;
  private consecutiveFailures = 0;
  private closing = false;
  private abandoned = false;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly transport: Transport,
    private readonly schedule: Platform['schedule'],
    private readonly stats: StatsTracker,
    private readonly logger: SafeLogger,
    private readonly emitter: Emitter<OdpClientEvents>,
  ) {
    this.lane = new PQueue({ concurrency: options.maxConcurrentRequests });
  }

  /** Takes a batch of accepted (already counted as queued) events. */
  dispatch(events: OdpWireEvent[], odp: OdpSettings): void {
    this.enqueue(this.createJob(events, odp), PRIORITY_NEW);
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
    this.closing = true;
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
    const job: Job = { events, odp, failures: 0, body: undefined, state: 'queued', cancelWait: undefined, done, settle };
    this.outstanding.add(job);
    return job;
  }

  private enqueue(job: Job, priority: number): void {
    job.state = 'queued';
    void this.lane.add(() => this.send(job), { priority });
  }

  private async send(job: Job): Promise<void> {
    if (job.state !== 'queued') return; // dropped while it waited for a slot
    job.state = 'inFlight';
    const count = job.events.length;
    this.stats.send(count, job.failures > 0);
    job.body ??= JSON.stringify(job.events);
    let response: HttpResponse | undefined;
    let failure: TransportError | undefined;
    try {
      response = await this.transport.request({
        method: 'POST',
        url: `${job.odp.host}/v3/events`,
        headers: { 'content-type': 'application/json', 'x-api-key': job.odp.publicKey },
        body: job.body,
        timeoutMs: this.options.requestTimeoutMs,
      });
    } catch (error) {
      failure = error instanceof TransportError ? error : new TransportError('network', String(error));
    }
    if (job.state !== 'inFlight') return; // abandoned at the deadline meanwhile
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
    const delay = Math.max(backoff, retryAfterMs ?? 0);
    this.logger.info(`sending ${job.events.length} events failed (${why}); retry ${job.failures} in ${delay} ms`);
    this.stats.requeue(job.events.length);
    job.state = 'waiting';
    this.waiting++;
    this.lane.pause();
    job.cancelWait = this.schedule(() => this.resume(job), this.closing ? Math.min(delay, this.options.initialBackoffMs) : delay);
  }

  private resume(job: Job): void {
    job.cancelWait?.();
    job.cancelWait = undefined;
    this.waiting--;
    this.enqueue(job, ++this.frontPriority);
    if (this.waiting === 0) this.lane.start();
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
    this.outstanding.delete(job);
    job.settle();
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
