import type { Emitter } from '../core/emitter';
import type { SafeLogger } from '../core/logger';
import type { StatsTracker } from '../core/stats-tracker';
import { utf8Length } from '../core/values';
import type { Platform } from '../platform/platform';
import { TransportError, type HttpResponse, type Transport } from '../transport/transport';
import type { DropReason, OdpClientEvents, OdpSettings, OdpWireEvent } from '../types';
import { backoffDelay, classifyStatus, parseRetryAfter } from './retry-policy';
import { assignIds } from '../event/build-event';

export interface DispatcherOptions {
  /** Request slots while the server keeps up; 1 keeps batches strictly in order (and never grows). */
  maxConcurrentRequests: number;
  requestTimeoutMs: number;
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Browsers: bytes of bodies that may be in flight as keep-alive requests (they outlive the page); 0: none. */
  keepaliveBytes: number;
  /** Opt-in body compression, done by the transport (`odp.compression`). */
  compression?: 'gzip' | 'none';
}

/** A batch of undelivered events, as a journal sees it: its body is the exact JSON that is sent. */
export interface Batch {
  readonly id: number;
  readonly odp: OdpSettings;
  readonly events: readonly OdpWireEvent[];
  readonly body: string;
}

/**
 * Told when undelivered events come and go, batch by batch: what a journal needs to keep them
 * across page loads without re-serialising anything. A batch stays `added` until a 2xx for it was
 * seen or it was dropped: a hand-off whose answer the page never saw stays.
 */
export interface DispatcherObserver {
  added(batch: Batch): void;
  removed(batch: Batch): void;
  /** Whether the batch is stored (a write can fail): a stored batch outlives a closed client, for a later page to send. */
  keeps?(batch: Batch): boolean;
}

export type JobState = 'queued' | 'inFlight' | 'waiting' | 'unconfirmed' | 'done';

/** A batch on its way: it keeps its body and its ODP settings across retries. */
export interface Job extends Batch {
  events: OdpWireEvent[];
  body: string;
  /** Bumped at each attempt: an answer to an earlier one is ignored. */
  ticket: number;
  /** Failed attempts so far. */
  failures: number;
  state: JobState;
  /** Cut by the client and never sent: it may join a request with the batches queued behind it (see merging.ts). */
  fresh: boolean;
  /** Made of merged batches (or a part of such a job): held to a size (see merging.ts). */
  capped: boolean;
  cancelWait: (() => void) | undefined;
  settle: () => void;
  done: Promise<void>;
}

/** While close() runs, retries are pulled in towards its deadline, but never closer together than this. */
const CLOSING_RETRY_FLOOR_MS = 50;
/**
 * The longest `Retry-After` honoured. ODP's limits are per second or minute; a longer (or
 * hostile, or far-future HTTP-date) value would hold every later event, filling the bounded
 * queue, so it is cut to five minutes, which still spaces a failing server's requests widely.
 */
export const MAX_RETRY_AFTER_MS = 300_000;
const BODY_EXCERPT = 200;
/** After a back/forward-cache restore, a request from before it that is still unanswered this long is sent again. */
const RESTORE_GRACE_MS = 1_000;

/**
 * The delivery state machine. Batches wait in one queue for a request slot (`maxConcurrentRequests`,
 * grown by a backlog): new ones at the back, retries and split halves at the front. It owns the
 * retry policy: exponential backoff with jitter for the whole queue (a failing server gets one
 * request per backoff, not a storm), `Retry-After` honoured, 413 split, other 4xx dropped. It knows
 * no page or process: platforms drive it through {@link hold}, {@link sendNow}, {@link handOff} and
 * {@link requeueUnconfirmed}.
 */
export class Dispatcher {
  protected readonly outstanding = new Set<Job>();
  private readonly unconfirmed = new Set<Job>();
  private readonly holds = new Set<string>();
  /** Batches waiting for a slot, in the order they go; an entry whose job moved on meanwhile is skipped. */
  protected queue: Job[] = [];
  private pumpQueued = false;
  /** Retries waiting out a backoff: the whole queue waits with them. */
  private waiting = 0;
  private consecutiveFailures = 0;
  private abandoned = false;
  /** When close() gives up (ms since the epoch); retries are pulled in before it. */
  private deadlineAt = Infinity;
  /** The queue-wide backoff ends then (ms since the epoch). */
  private backoffUntil = 0;
  /** The server's `Retry-After` ends then: nothing overrides it (ms since the epoch). */
  private serverUntil = 0;
  private keepaliveInFlight = 0;
  /** Hand-offs so far: a keep-alive request that fails after one may well have been delivered. */
  private handOffs = 0;
  /** Between a hand-off and the host's return: keep-alive requests started now may outlive it too. */
  private handingOff = false;
  private nextId = 1;
  /** Request slots now: `maxConcurrentRequests` (the merging dispatcher grows them while a backlog waits). */
  protected slots: number;
  /** Slots in use. */
  protected busy = 0;
  /** The last answer was a 2xx: only then do waiting batches merge, or a backlog earn a slot. */
  protected healthy = false;
  /** The end of the pause {@link pauseUntil} holds, and its timer. */
  private pausedUntil = 0;
  private cancelPause: (() => void) | undefined;
  /** Set by a platform that keeps undelivered events (browsers' journal). */
  observer: DispatcherObserver | undefined;

  /** Sockets the transport must allow for `maxConcurrentRequests` slots. */
  static sockets(maxConcurrentRequests: number): number {
    return maxConcurrentRequests;
  }

  constructor(
    protected readonly options: DispatcherOptions,
    private readonly transport: Transport,
    private readonly schedule: Platform['schedule'],
    protected readonly newId: () => string,
    private readonly stats: StatsTracker,
    private readonly logger: SafeLogger,
    private readonly emitter: Emitter<OdpClientEvents>,
  ) {
    this.slots = options.maxConcurrentRequests;
  }

  /** Takes a batch of accepted (already counted as queued) events; resolves (never rejects) once it is delivered or dropped. */
  dispatch(events: OdpWireEvent[], odp: OdpSettings): Promise<void> {
    const job = this.createJob(events, odp);
    job.fresh = true;
    this.queue.push(job);
    this.pumpSoon();
    return job.done;
  }

  /** The earliest time a request may go: the backoff and the server's `Retry-After` (ms since the epoch). */
  get notBefore(): number {
    return Math.max(this.backoffUntil, this.serverUntil);
  }

  /** Honours a pause that an earlier host (a page before a reload) was asked for; overlapping pauses end with the latest. */
  pauseUntil(time: number): void {
    if (time <= Date.now() || time <= this.pausedUntil) return;
    this.pausedUntil = time;
    this.serverUntil = Math.max(this.serverUntil, time);
    this.hold('server', true);
    this.cancelPause?.();
    this.cancelPause = this.schedule(() => this.hold('server', false), time - Date.now());
  }

  /**
   * Starts or ends a hold (e.g. `offline`, `left`): while any hold is on, no request starts;
   * those running go on. Ending the last one sends what waits, backoff allowing.
   */
  hold(reason: string, on: boolean): void {
    if (on) this.holds.add(reason);
    else {
      this.holds.delete(reason);
      this.pump();
    }
  }

  /**
   * Back online: the failures were the network's, not the server's, so what waits for a backoff
   * goes now; a `Retry-After` the server gave still holds.
   */
  forgiveFailures(): void {
    this.consecutiveFailures = 0;
    this.backoffUntil = 0;
    if (Date.now() < this.serverUntil) return;
    for (const job of [...this.outstanding]) if (job.state === 'waiting') this.resume(job);
  }

  /**
   * Sends every batch that may go now at once, as keep-alive requests within the platform's
   * budget: never one inside a backoff or `Retry-After` (those stay, and stay journaled).
   * What does not fit the budget stays queued, in order.
   */
  sendNow(): void {
    const budget = this.options.keepaliveBytes;
    if (!budget || Date.now() < this.notBefore) return;
    for (const job of [...this.outstanding]) {
      if (job.state !== 'queued') continue;
      assignIds(job.events, this.newId); // sized as sent: with their ids
      let bytes = this.keepaliveInFlight + 1;
      let fit = 0;
      for (const event of job.events) {
        bytes += utf8Length(JSON.stringify(event)) + 1; // the event and its ',' or ']'
        if (bytes > budget) break;
        fit++;
      }
      if (!fit) break;
      if (fit < job.events.length) {
        const rest = this.replace(job, [job.events.slice(0, fit), job.events.slice(fit)]);
        this.enqueue(rest[1]!);
        void this.send(rest[0]!);
      } else {
        void this.send(job); // its entry in the queue is skipped when it comes up
      }
    }
  }

  /**
   * The host is going (a page left or frozen): requests in flight now, or started from now on,
   * may be delivered without this host seeing the answer. A keep-alive request that then fails
   * leaves its events `unconfirmed` (still journaled, sent again by the next page with the
   * same ids) instead of retrying them now, which would duplicate what the browser delivers.
   */
  handOff(): void {
    this.handOffs++;
    this.handingOff = true;
  }

  /**
   * The host came back (the back/forward cache): unconfirmed batches are sent again, with their ids,
   * and so, after {@link RESTORE_GRACE_MS}, are those still unanswered from before it went: a request
   * in flight as a page froze may never settle after the restore (Firefox); a late answer is ignored.
   */
  requeueUnconfirmed(): void {
    this.handingOff = false;
    const stalled = [...this.outstanding].filter((job) => job.state === 'inFlight').map((job) => [job, job.ticket] as const);
    if (stalled.length) {
      this.schedule(() => {
        for (const [job, ticket] of stalled) {
          if (job.state !== 'inFlight' || job.ticket !== ticket) continue;
          this.stats.requeue(job.events.length);
          this.enqueue(job);
        }
      }, RESTORE_GRACE_MS);
    }
    for (const job of this.unconfirmed) {
      this.stats.reconsider(job.events.length);
      this.outstanding.add(job);
      this.enqueue(job);
    }
    this.unconfirmed.clear();
  }

  /**
   * Another page of the site took these batches over from storage while this host was away (the
   * back/forward cache): they are its to send now. This host forgets them, counted as `handedOver`;
   * an answer to one still in flight is ignored. Returns how many events that was.
   */
  handOver(batchIds: ReadonlySet<number>): number {
    return this.end(
      (job) => batchIds.has(job.id),
      (job) => {
        this.stats.handOver(job.events.length, job.state);
        this.finish(job);
      },
    );
  }

  /** Resolves once every batch dispatched so far is delivered, dropped or handed off. */
  async flush(): Promise<void> {
    await Promise.all([...this.outstanding].map((job) => job.done));
  }

  /**
   * Sends what is left, waiting retries at once (once the server's `Retry-After` has ended), and
   * gives up at the deadline: what is undelivered then is dropped as `closed`, or, where a journal
   * keeps it, left stored for a later page (`handedOver`). Resolves when nothing is outstanding,
   * with the number of events dropped at the deadline.
   */
  async close(timeoutMs: number): Promise<number> {
    const now = Date.now();
    this.deadlineAt = now + timeoutMs;
    for (const job of this.outstanding) {
      if (job.state !== 'waiting') continue;
      // The backoff is this client's own and gives way; a Retry-After is the server's and does not.
      if (now >= this.serverUntil) this.resume(job);
      else {
        job.cancelWait?.();
        job.cancelWait = this.schedule(() => this.resume(job), this.serverUntil - now);
      }
    }
    let cancelDeadline: (() => void) | undefined;
    const deadline = new Promise<void>((resolve) => {
      cancelDeadline = this.schedule(resolve, timeoutMs);
    });
    await Promise.race([this.flush(), deadline]);
    cancelDeadline?.();
    const before = this.stats.droppedBy.closed;
    this.abandon();
    await this.flush();
    this.transport.close();
    return this.stats.droppedBy.closed - before;
  }

  /**
   * Drops everything undelivered (queued, waiting or in flight) as `reason`, at once: e.g. the
   * user opted out. Returns how many events were dropped.
   */
  discard(reason: DropReason): number {
    const count = this.end(
      () => true,
      (job) => this.drop(job, reason, undefined, `${job.events.length} events were discarded (${reason})`, true),
    );
    this.queue = [];
    return count;
  }

  /**
   * Drops as `reason`, at once, what is still undelivered of the batch dispatched with `events`:
   * every job that carries one of them (they hold the same event objects: the batch, the parts a
   * 413 split it into, or a merged request, which is dropped whole with the batches it carries),
   * whether queued, waiting for a retry or in flight (a late answer is then ignored). For a
   * deadline that the host imposes on one batch (waitUntil); its promise settles now. Returns how
   * many events were dropped.
   */
  expire(events: readonly OdpWireEvent[], reason: DropReason, why: string): number {
    const mine = new Set(events);
    return this.end(
      (job) => job.events.some((event) => mine.has(event)),
      (job) => this.drop(job, reason, undefined, `${job.events.length} events were dropped: ${why}`),
    );
  }

  /** Ends each undelivered job that `which` picks with `how` (a retry wait is cancelled first); returns how many events. */
  private end(which: (job: Job) => boolean, how: (job: Job) => void): number {
    let count = 0;
    for (const job of [...this.outstanding, ...this.unconfirmed]) {
      if (!which(job)) continue;
      if (job.state === 'waiting') {
        job.cancelWait?.();
        this.waiting--;
      }
      count += job.events.length;
      how(job);
    }
    this.pump();
    return count;
  }

  /** Starts what may go now in the free slots, at the end of the current task (never inside the caller's). */
  private pumpSoon(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Starts queued batches in the free slots, unless a hold or a retry's wait holds the queue. */
  private pump(): void {
    while (!this.holds.size && !this.waiting && this.busy < this.slots) {
      const job = this.queue.shift();
      if (!job) return;
      if (job.state === 'queued') void this.send(job, true);
    }
  }

  protected createJob(events: OdpWireEvent[], odp: OdpSettings, body = ''): Job {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const job: Job = { id: this.nextId++, events, odp, body, ticket: 0, failures: 0, state: 'queued', fresh: false, capped: false, cancelWait: undefined, done, settle };
    // Where a journal keeps it, serialised once, at once: what is stored is what is sent.
    if (this.observer && !body) job.body = serialise(job, this.newId);
    this.outstanding.add(job);
    this.observer?.added(job);
    return job;
  }

  /** Replaces a job by jobs for `parts` of its events: they take its place (and its journal entry). */
  protected replace(job: Job, parts: OdpWireEvent[][]): Job[] {
    const jobs = parts.map((events) => this.createJob(events, job.odp));
    for (const part of jobs) {
      part.failures = job.failures;
      part.capped = job.capped;
    }
    this.outstanding.delete(job);
    job.state = 'done';
    this.observer?.removed(job);
    void Promise.all(jobs.map((part) => part.done)).then(job.settle);
    return jobs;
  }

  /** Puts a job at the front of the queue: a retry, a split half, a batch to send again. */
  protected enqueue(job: Job): void {
    job.state = 'queued';
    this.queue.unshift(job);
    this.pumpSoon();
  }

  /**
   * The job that goes in a request, and its body: the batch as cut. The Node and runtime builds'
   * dispatcher (merging.ts) merges what waits behind busy slots here.
   */
  protected prepare(job: Job, _inSlot: boolean): { job: Job; body: string } {
    return { job, body: serialise(job, this.newId) };
  }

  /** Sends a job; `inSlot`: it took one of the request slots (not a keep-alive send at page hide). */
  private async send(job: Job, inSlot = false): Promise<void> {
    let body: string;
    ({ job, body } = this.prepare(job, inSlot));
    job.fresh = false;
    job.state = 'inFlight';
    const ticket = ++job.ticket;
    if (inSlot) this.busy++;
    this.pumpSoon(); // a slot the backlog earned
    try {
      const answered = this.post(job, body, ticket);
      body = ''; // not held while the answer is awaited (it would outlive young-generation GCs)
      await answered;
    } finally {
      if (inSlot) {
        this.busy--;
        this.pump();
      }
    }
  }

  /** Starts one request for a job in flight; resolves once its answer was acted on. */
  private post(job: Job, body: string, ticket: number): Promise<void> {
    this.stats.send(job.events.length, job.failures > 0);
    const bytes = this.options.keepaliveBytes ? utf8Length(body) : 0;
    const keepalive = bytes > 0 && this.keepaliveInFlight + bytes <= this.options.keepaliveBytes;
    if (keepalive) this.keepaliveInFlight += bytes;
    let answer: Promise<HttpResponse>;
    try {
      answer = this.transport.request({
        method: 'POST',
        url: `${job.odp.host}/v3/events`,
        headers: { 'content-type': 'application/json', 'x-api-key': job.odp.publicKey },
        body,
        timeoutMs: this.options.requestTimeoutMs,
        keepalive,
        compression: this.options.compression,
      });
    } catch (error) {
      answer = Promise.reject(error);
    }
    return this.conclude(job, answer, ticket, keepalive ? bytes : 0, this.handOffs);
  }

  /** What a request's answer means for its job. Apart from {@link post}, so that the body is not held meanwhile. */
  private async conclude(job: Job, answer: Promise<HttpResponse>, ticket: number, keepaliveBytes: number, handOffs: number): Promise<void> {
    const count = job.events.length;
    const keepalive = keepaliveBytes > 0;
    let response: HttpResponse | undefined;
    let failure: TransportError | undefined;
    try {
      response = await answer;
    } catch (error) {
      failure = error instanceof TransportError ? error : new TransportError('network', String(error));
    }
    this.keepaliveInFlight -= keepaliveBytes;
    if (job.state !== 'inFlight' || job.ticket !== ticket) return; // dropped, handed over or sent again meanwhile
    if (!response) {
      if (keepalive && (this.handingOff || handOffs !== this.handOffs)) {
        // The host went meanwhile: the browser may well have delivered it, so no retry here.
        this.stats.unconfirm(count);
        job.state = 'unconfirmed';
        this.outstanding.delete(job);
        this.unconfirmed.add(job);
        job.settle();
        this.logger.info(`${count} events handed over as the page went: stored until a 2xx`);
        return;
      }
      this.fail(job, `${failure?.kind ?? 'network'} error: ${failure?.message ?? 'unknown'}`, undefined, undefined);
      return;
    }
    const status = response.status;
    switch (classifyStatus(status)) {
      case 'delivered':
        this.consecutiveFailures = 0;
        this.healthy = true;
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
        this.drop(job, 'rejectedByServer', status, `ODP answered ${status} to ${count} events: ${excerpt}`);
      }
    }
  }

  /** A retryable failure: back off the whole queue and try again, or give up. */
  private fail(job: Job, why: string, status: number | undefined, retryAfterMs: number | undefined): void {
    job.failures++;
    if (this.abandoned) {
      this.giveUp(job, status, `${job.events.length} events not delivered by close()'s deadline (${why})`);
      return;
    }
    if (job.failures > this.options.maxRetries) {
      this.drop(job, 'retriesExhausted', status, `gave up on ${job.events.length} events after ${job.failures} attempts (${why})`);
      return;
    }
    this.consecutiveFailures++;
    this.healthy = false;
    this.slots = this.options.maxConcurrentRequests; // no extra slot for a server that fails
    const backoff = backoffDelay(this.consecutiveFailures, this.options.initialBackoffMs, this.options.maxBackoffMs);
    const serverMs = Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS);
    let delay = Math.max(backoff, serverMs);
    const now = Date.now();
    const remaining = this.deadlineAt - now;
    if (delay > remaining) {
      // A retry after close()'s deadline could only be dropped: try halfway to it instead, yet
      // not in a rush that burns the retry budget, and never sooner than Retry-After allows.
      delay = Math.round(Math.max(remaining / 2, Math.min(this.options.initialBackoffMs, CLOSING_RETRY_FLOOR_MS), serverMs));
    }
    this.backoffUntil = Math.max(this.backoffUntil, now + delay);
    if (serverMs) this.serverUntil = Math.max(this.serverUntil, now + serverMs);
    this.logger.info(`sending ${job.events.length} events failed (${why}); retry ${job.failures} in ${delay} ms`);
    this.stats.requeue(job.events.length);
    job.state = 'waiting';
    this.waiting++;
    job.cancelWait = this.schedule(() => this.resume(job), delay);
  }

  private resume(job: Job): void {
    job.cancelWait?.();
    job.cancelWait = undefined;
    this.waiting--;
    this.enqueue(job);
  }

  /** 413: halve the batch; a single event that is still too large is dropped, and nothing more is sent once closed. */
  private split(job: Job): void {
    const count = job.events.length;
    if (this.abandoned) {
      this.giveUp(job, 413, `${count} events not delivered by close()'s deadline (413, not split)`);
      return;
    }
    if (count === 1) {
      this.drop(job, 'tooLarge', 413, 'ODP answered 413 to one event: too large');
      return;
    }
    this.stats.requeue(count);
    const middle = Math.ceil(count / 2);
    const halves = this.replace(job, [job.events.slice(0, middle), job.events.slice(middle)]);
    for (const half of halves) half.failures = 0;
    // Second half in first, so that the first half is in front and leads.
    this.enqueue(halves[1]!);
    this.enqueue(halves[0]!);
  }

  /**
   * After close()'s deadline: a batch a journal keeps stays stored for a later page (counted as
   * `handedOver`, its entry left in place); any other is dropped as `closed`.
   */
  private giveUp(job: Job, status: number | undefined, message: string): void {
    if (!this.observer?.keeps?.(job)) {
      this.drop(job, 'closed', status, message);
      return;
    }
    this.stats.handOver(job.events.length, job.state);
    job.state = 'done';
    this.outstanding.delete(job);
    job.settle();
  }

  private drop(job: Job, reason: DropReason, status: number | undefined, message: string, quiet = false): void {
    const count = job.events.length;
    this.stats.drop(count, reason, job.state);
    this.finish(job);
    if (!quiet) this.logger.error(message);
    this.emitter.emit('dropped', { reason, count, status, message });
  }

  private finish(job: Job): void {
    job.state = 'done';
    job.body = ''; // a queue entry may hold the job a little longer; its body need not wait with it
    this.outstanding.delete(job);
    this.unconfirmed.delete(job);
    this.observer?.removed(job);
    job.settle();
  }

  /** The deadline passed: drop what waits (a stored batch stays stored instead), abort what is in flight. */
  private abandon(): void {
    if (this.outstanding.size === 0) return;
    this.abandoned = true;
    this.queue = [];
    for (const job of [...this.outstanding]) {
      if (job.state === 'waiting') {
        job.cancelWait?.();
        this.waiting--;
      }
      if (job.state !== 'inFlight') this.giveUp(job, undefined, `${job.events.length} events not delivered by close()'s deadline`);
    }
    // In-flight requests reject as aborted and are dropped as closed by fail().
    this.transport.close();
  }
}

/**
 * The job's body. Ids are drawn once, the first time, so every later serialisation of the same
 * events is the same bytes: a retry or a split half resends exactly what was sent. Kept only
 * where a journal stores it; elsewhere it is made per attempt and freed as soon as it is written
 * (a body held across a request's round trip outlives young-generation collections and fills
 * the old generation: measured, 1.2x the peak memory of a 100k burst).
 */
export function serialise(job: Job, newId: () => string): string {
  if (job.body) return job.body;
  assignIds(job.events, newId);
  return JSON.stringify(job.events);
}

