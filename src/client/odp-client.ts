import { Emitter } from '../core/emitter';
import { SafeLogger } from '../core/logger';
import type { ParsedDatafile } from '../datafile/parse-datafile';
import { createDatafileManager, type DatafileManager } from '../datafile/datafile-manager';
import { Dispatcher } from '../dispatcher/dispatcher';
import { buildEvent, type BuildContext, type RawEvent } from '../event/build-event';
import { odpError, OdpError, type OdpErrorCode } from '../event/odp-error';
import { OPT_OUT_STORAGE_KEY, type ClientHandle, type HostLifecycle, type Platform } from '../platform/platform';
import { BatchQueue } from '../queue/batch-queue';
import { FlushScheduler } from '../queue/flush-scheduler';
import { StatsTracker } from '../core/stats-tracker';
import type { Transport } from '../transport/transport';
import type {
  CloseOptions,
  FlushOptions,
  OdpClient,
  OdpClientConfig,
  OdpClientEvents,
  OdpData,
  OdpEvent,
  OdpEventInput,
  OdpIdentifiers,
  OdpSettings,
  OdpStats,
  OdpWireEvent,
  OnReadyOptions,
} from '../types';
import { loadOrCreateVuid, VUID_STORAGE_KEY } from './vuid';
import type { SegmentsService } from '../segments/segments-manager';
import type { SegmentsExtension } from '../segments/extension';
import type { UserContextHost } from '../segments/user-context';
import type { OdpSegments, OdpUserAttributes, OdpUserContext } from '../types';
import type { HandOver } from './wait-until';
import { resolveOptions, type ResolvedOptions } from './options';
import { RefusalLog } from './refusals';

const NOT_READY = 'the datafile is not ready yet';
const CLOSED_BEFORE_READY = 'odp-sdk: closed before ready';
/** Segments fetches for different users may run side by side. */
const SEGMENTS_MAX_SOCKETS = 8;

/**
 * The client behind the public {@link OdpClient} interface: validates events and hands them to the
 * queue. Everything after that (batching, sending, retrying) happens off the caller's path. Not
 * exported from the package: the entry points' `createInstance` makes it with their platform.
 */
export class Client implements OdpClient {
  private readonly options: ResolvedOptions;
  private readonly logger: SafeLogger;
  /** A listener that throws is the host's bug: logged, each distinct message once. */
  private readonly emitter = new Emitter<OdpClientEvents>((name, error) => {
    const message = `a '${String(name)}' listener threw: ${error instanceof Error ? error.message : String(error)}`;
    this.logger.once('error', message, message);
  });
  private readonly stats_ = new StatsTracker();
  private readonly queue = new BatchQueue();
  private readonly scheduler: FlushScheduler;
  private readonly transport: Transport;
  private readonly dispatcher: Dispatcher;
  private readonly datafiles: DatafileManager;
  private readonly buildContext: BuildContext;
  /** The visitor id: the one in the build context, which adds it to every event. */
  private get vuid(): string | null {
    return this.buildContext.vuid;
  }
  private userOptedOut: boolean;
  private readonly refusals: RefusalLog;
  private readonly segmentsExtension: SegmentsExtension | undefined;
  private readonly segments: SegmentsService | undefined;
  /** Hands batches to the host's `waitUntil` (runtime and Node builds); absent in browsers. */
  private readonly handOver: HandOver | undefined;
  private odp: OdpSettings | null = null;
  private ready = false;
  /** Why this client can never be ready, if so: onReady() says it at once. */
  private neverReady: string | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly readyWaiters = new Set<(error?: Error) => void>();
  /** The host's lifecycle (page or process) that drives delivery; absent where there is none. */
  private readonly host: HostLifecycle | undefined;

  /**
   * `extensions`: what the entry point's build includes by default (Real-Time Segments, the
   * `waitUntil` hand-over, the dispatcher that merges a backlog into large requests); a page's build
   * includes none of them (see {@link OdpSegments}).
   */
  constructor(
    config: OdpClientConfig | undefined,
    private readonly platform: Platform,
    extensions: { segments?: OdpSegments; handOver?: HandOver; dispatcher?: typeof Dispatcher } = {},
  ) {
    const { options, problems, warnings } = resolveOptions(config);
    this.options = options;
    this.logger = new SafeLogger(options.logger, options.logLevel);
    for (const warning of warnings) this.logger.warn(`config: ${warning}`);
    this.refusals = new RefusalLog(this.logger, platform.schedule);
    for (const problem of problems) this.logger.error(`invalid config: ${problem}`);
    const odp = options.odp;
    const DispatcherOfBuild = extensions.dispatcher ?? Dispatcher;
    this.transport = platform.createTransport({ maxSockets: DispatcherOfBuild.sockets(odp.maxConcurrentRequests) });
    this.scheduler = new FlushScheduler(odp.flushIntervalMs, platform.schedule, () => this.cutBatch(), () => this.queue.length > 0);
    // A choice the user made (setOptOut) wins; else the site's default, or the browser's GPC signal.
    const chosen = platform.storage?.get(OPT_OUT_STORAGE_KEY);
    this.userOptedOut = chosen === '1' || (chosen !== '0' && (options.optOut || (options.honorGlobalPrivacyControl && globalPrivacyControl())));
    let vuid: string | null = null;
    if (options.vuid && !this.userOptedOut) vuid = loadOrCreateVuid(platform.storage, platform.newId);
    // Optimizely's own SDK on the page owns the id too: only an explicit `vuid: false`, or an opted-out
    // user of a client that uses it, removes it; the default (no vuid option) leaves it alone.
    else if (config?.vuid === false || options.vuid) platform.storage?.remove(VUID_STORAGE_KEY);
    this.buildContext = { maxEventBytes: odp.maxEventBytes, vuid };
    this.dispatcher = new DispatcherOfBuild(
      { ...odp, keepaliveBytes: platform.keepaliveBytes },
      this.transport,
      platform.schedule,
      platform.newId,
      this.stats_,
      this.logger,
      this.emitter,
    );
    this.host = platform.attach?.(this.handle());
    if (this.userOptedOut) this.host?.forget?.();
    if (options.waitUntil && !extensions.handOver) this.logger.warn('waitUntil is for serverless runtimes; this build ignores it');
    this.handOver = options.waitUntil && extensions.handOver;
    this.segmentsExtension = (options.segments ?? extensions.segments) as SegmentsExtension | undefined;
    this.segments = this.segmentsExtension?.service(
      { disabled: odp.disabled, cacheSize: odp.segmentsCacheSize, cacheTimeoutMs: odp.segmentsCacheTimeoutMs, requestTimeoutMs: odp.requestTimeoutMs },
      // Its own transport: a segments fetch is on the caller's decision path and must not queue behind event batches.
      () => platform.createTransport({ maxSockets: SEGMENTS_MAX_SOCKETS }),
      this.logger,
    );
    this.datafiles = createDatafileManager(
      {
        datafile: options.datafile,
        sdkKey: options.sdkKey,
        urlTemplate: options.datafileUrlTemplate,
        updateIntervalMs: options.datafileUpdateIntervalMs,
        requestTimeoutMs: odp.requestTimeoutMs,
        allowInsecureHost: odp.allowInsecureHost,
      },
      this.transport,
      platform.schedule,
      this.logger,
      (datafile) => this.takeDatafile(datafile),
    );
    this.datafiles.start();
    // No valid datafile given and none to fetch: waiting for one would be waiting for ever.
    if (!this.ready && !options.sdkKey) this.neverReady = 'odp-sdk: no valid datafile and no sdkKey';
  }

  /**
   * Queues an event for ODP. Returns `null` when it was accepted, or an {@link OdpError} that
   * says why it was discarded. Never throws.
   *
   * Call it with an object, `sendOdpEvent({ action, identifiers, type?, data? })`, or in the
   * positional form `sendOdpEvent(type, action, identifiers, data?)`.
   */
  sendOdpEvent(event: OdpEventInput): OdpError | null;
  sendOdpEvent(type: string | null | undefined, action: string, identifiers: OdpIdentifiers, data?: OdpData | null): OdpError | null;
  sendOdpEvent(first: unknown, action?: unknown, identifiers?: unknown, data?: unknown): OdpError | null {
    try {
      // Four parameters, not a rest array: nothing is allocated for the call itself.
      return this.accept(first, action, identifiers, data);
    } catch (error) {
      // Unreachable by design; the promise to the host is that nothing escapes.
      return this.refuse('invalidData', `the event could not be read: ${String(error)}`);
    }
  }

  /**
   * Resolves once a valid datafile is held. Rejects with an Error when `timeoutMs` passes first
   * (naming the last cause: the datafile URL and its status or error), when the client is closed
   * first, or at once when it can never be ready (an invalid datafile and no sdkKey). While it
   * waits with a timeout it keeps Node alive: every other SDK timer is unref'd, so without it the
   * event loop could empty first and the caller's `catch` would never run.
   */
  onReady(options: OnReadyOptions = {}): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(CLOSED_BEFORE_READY));
    if (this.neverReady) return Promise.reject(new Error(this.neverReady));
    return new Promise((resolve, reject) => {
      let cancelTimer: (() => void) | undefined;
      let release: (() => void) | undefined;
      const done = (error?: Error) => {
        cancelTimer?.();
        release?.();
        this.readyWaiters.delete(done);
        if (error) reject(error);
        else resolve();
      };
      this.readyWaiters.add(done);
      const timeoutMs = timeoutOf(options);
      if (timeoutMs !== undefined) {
        release = this.platform.holdOpen?.();
        cancelTimer = this.platform.schedule(() => done(new Error(this.logger.redact(`odp-sdk: no valid datafile within ${timeoutMs} ms; ${this.datafiles.problem()}`))), timeoutMs);
      }
    });
  }

  /**
   * Sends everything queued so far and waits until each of those events is delivered or dropped:
   * resolves `true` then, or `false` once `timeoutMs` passed first (what is left stays queued).
   * Never rejects. Node stays up while it waits.
   */
  async flush(options: FlushOptions = {}): Promise<boolean> {
    this.cutBatch();
    const timeoutMs = timeoutOf(options);
    const release = this.platform.holdOpen?.();
    let cancelTimer: (() => void) | undefined;
    try {
      const settled = this.dispatcher.flush().then(() => true);
      if (timeoutMs === undefined) return await settled;
      const deadline = new Promise<boolean>((resolve) => (cancelTimer = this.platform.schedule(() => resolve(false), timeoutMs)));
      return await Promise.race([settled, deadline]);
    } finally {
      cancelTimer?.();
      release?.();
    }
  }

  /**
   * Stops the client: later events get `closed`, polling stops, what is queued is sent, and what
   * is still undelivered at the deadline is dropped as `closed` (one warning says how many); in a
   * browser, what is stored stays stored instead, for the next page (`handedOver`).
   * Resolves (never rejects) by the deadline: no timer or socket then keeps Node alive.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.refusals.summarise();
      const timeoutMs = timeoutOf(options) ?? this.options.closeTimeoutMs;
      this.datafiles.stop();
      this.segments?.close();
      for (const settle of [...this.readyWaiters]) settle(new Error(CLOSED_BEFORE_READY));
      this.cutBatch();
      const release = this.platform.holdOpen?.();
      const handedOver = this.stats_.handedOver;
      this.closing = this.dispatcher
        .close(timeoutMs)
        .then((dropped) => {
          if (dropped) this.logger.warn(`close(): ${dropped} events dropped at the ${timeoutMs} ms deadline`);
          const kept = this.stats_.handedOver - handedOver;
          if (kept) this.logger.warn(`close(): ${kept} events stay stored for a later page`);
        })
        .catch((error: unknown) => {
          this.logger.error(`close failed: ${String(error)}`);
        })
        .finally(() => {
          this.host?.detach();
          release?.();
        });
    }
    return this.closing;
  }

  /** Counters: accepted, delivered, dropped (by reason), rejected calls (by code), pending, unconfirmed, requests. */
  stats(): OdpStats {
    const stats = this.stats_.snapshot();
    const storageErrors = this.host?.storageErrors?.();
    if (storageErrors !== undefined) stats.storageErrors = storageErrors;
    return stats;
  }

  /** Listens to `ready`, `delivered`, `dropped` or `datafileUpdate`; returns a function that unsubscribes. */
  on<K extends keyof OdpClientEvents>(name: K, listener: (payload: OdpClientEvents[K]) => void): () => void {
    if (typeof listener !== 'function') return () => {};
    return this.emitter.on(name, listener);
  }

  /** Like {@link on}, for the next event of that name only. */
  once<K extends keyof OdpClientEvents>(name: K, listener: (payload: OdpClientEvents[K]) => void): () => void {
    if (typeof listener !== 'function') return () => {};
    const off = this.emitter.on(name, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /**
   * A context for one user, whose qualified ODP segments it can fetch (see {@link OdpSegments}):
   * null, with an error line, when this client has no segments extension.
   */
  createUserContext(userId: string, attributes?: OdpUserAttributes): OdpUserContext | null {
    if (this.segmentsExtension) return this.segmentsExtension.userContext(this.userHost(), userId, attributes);
    this.logger.error('createUserContext needs the segments extension: odp-sdk/segments (script tag: odp-sdk.segments.min.js)');
    return null;
  }

  /** What a user context needs of this client. */
  private userHost(): UserContextHost {
    return {
      logger: this.logger,
      ready: () => this.ready,
      vuid: () => this.vuid,
      notReady: () => this.stats_.reject('sdkNotReady'), // the warning says it
      identify: (identifiers) => {
        if (this.options.odp.disabled || !this.odp || this.userOptedOut) return;
        const error = this.sendOdpEvent({ type: 'fullstack', action: 'identified', identifiers });
        if (error) this.logger.warn(`identified not sent: ${error.message}`);
      },
      fetchSegments: (userKey, userValue, options) => {
        if (this.userOptedOut) {
          this.logger.info('fetchQualifiedSegments: opted out, no request');
          return Promise.resolve(null);
        }
        return this.segments!.fetch(userKey, userValue, options);
      },
    };
  }

  /** The visitor id when `vuid: true` was configured, else null. */
  getVuid(): string | null {
    return this.vuid;
  }

  /**
   * Opts the user out of (or back into) sending. Opting out stops sending at once: every event
   * queued, waiting for a retry or stored in the browser by this client is discarded (counted as
   * dropped with reason `optedOut`; in a browser, so are those that pages now gone stored for the
   * same ODP key, and the page's other clients and tabs apply the choice to theirs), the stored
   * visitor id is removed when `vuid` is on, and later events get `optedOut`. No implicit event or
   * segments request is made while opted out. Opting back in starts clean, with a new visitor id
   * when `vuid` is on. Browsers keep the choice for later page loads. Never throws.
   */
  setOptOut(optedOut: boolean): void {
    if (typeof optedOut !== 'boolean') {
      this.logger.error('setOptOut expects true or false');
      return;
    }
    this.platform.storage?.set(OPT_OUT_STORAGE_KEY, optedOut ? '1' : '0');
    if (optedOut === this.userOptedOut) return;
    this.userOptedOut = optedOut;
    if (optedOut) {
      this.scheduler.cancel();
      const queued = this.queue.take().length;
      if (queued) {
        this.stats_.drop(queued, 'optedOut', 'queued');
        this.emitter.emit('dropped', { reason: 'optedOut', count: queued, message: `${queued} queued events were discarded (optedOut)` });
      }
      const discarded = queued + this.dispatcher.discard('optedOut');
      this.host?.forget?.();
      if (this.options.vuid) this.platform.storage?.remove(VUID_STORAGE_KEY);
      this.buildContext.vuid = null;
      this.logger.info(`opted out: ${discarded} events discarded`);
      this.host?.optOutChanged?.(true);
      return;
    }
    if (this.options.vuid) {
      this.buildContext.vuid = loadOrCreateVuid(this.platform.storage, this.platform.newId);
      if (this.ready) this.announceVisitor();
    }
    this.logger.info('opted back in');
    this.host?.optOutChanged?.(false);
  }

  /** Whether the user is opted out (see {@link setOptOut}). */
  isOptedOut(): boolean {
    return this.userOptedOut;
  }

  /** True once a valid datafile is held. */
  isReady(): boolean {
    return this.ready;
  }

  private accept(first: unknown, action: unknown, identifiers: unknown, data: unknown): OdpError | null {
    if (this.userOptedOut) return this.refuse('optedOut', 'the user opted out');
    if (!this.ready) return this.refuse('sdkNotReady', NOT_READY);
    if (this.options.odp.disabled) return this.refuse('odpNotEnabled', 'odp.disabled is set');
    const odp = this.odp;
    if (!odp) return this.refuse('odpNotIntegrated', 'no ODP host and publicKey in the datafile');
    // The object itself goes in, so that even a hostile getter is read under buildEvent's guard.
    const positional = typeof first !== 'object' || first === null;
    const raw: RawEvent = positional ? { type: first, action, identifiers, data } : (first as RawEvent);
    if (positional && action === 'fullstack') {
      // Optimizely's SDK takes (action, type, ...): its callers' events would go out with action "fullstack".
      this.logger.once('warn', 'order', `sendOdpEvent(${JSON.stringify(first)}, "fullstack", ...): sent as action "fullstack"; the order is (type, action, ...), Optimizely's (action, type, ...)`);
    }
    let event = buildEvent(raw, this.buildContext);
    if (event instanceof OdpError) return this.refuse(event.code, event.message, event);
    if (this.closed) return this.refuse('closed', 'client closed');
    if (this.stats_.held >= this.options.odp.queueSize) {
      return this.refuse('queueFull', `queue full (odp.queueSize ${this.options.odp.queueSize})`);
    }
    if (this.options.beforeSend) {
      // The hook sees the event as it will be sent, id included.
      if (event.data.idempotence_id === '') event.data.idempotence_id = flatten(this.platform.newId());
      event = this.runBeforeSend(this.options.beforeSend, event);
      if (event instanceof OdpError) return this.refuse(event.code, event.message, event);
    }
    this.stats_.accept();
    const length = this.queue.push(event);
    if (length >= this.options.odp.batchSize) this.cutBatch(true);
    else if (length === 1) this.scheduler.arm();
    this.host?.queueChanged();
    return null;
  }

  /**
   * The user's hook sees the event as it would be sent, and its answer is checked like the caller's
   * input (the vuid is not added again: a hook may remove it on purpose).
   */
  private runBeforeSend(hook: (event: OdpEvent) => OdpEvent | null, event: OdpWireEvent): OdpWireEvent | OdpError {
    let result: unknown;
    try {
      result = hook(event);
    } catch (error) {
      return odpError('beforeSendFailed', `beforeSend threw: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (result === null) return odpError('filtered', 'beforeSend dropped the event');
    if (typeof result !== 'object') return odpError('beforeSendFailed', `beforeSend must return an event or null, got ${typeof result}`);
    const checked = buildEvent(result as RawEvent, { maxEventBytes: this.options.odp.maxEventBytes, vuid: null });
    if (checked instanceof OdpError) return odpError('beforeSendFailed', `beforeSend returned an invalid event: ${checked.message}`);
    // An id the hook removed or blanked is drawn again: every event needs one.
    if (checked.data.idempotence_id === '' || typeof checked.data.idempotence_id !== 'string') checked.data.idempotence_id = flatten(this.platform.newId());
    return checked;
  }

  /** What the platform's lifecycle code (page, process) may see and do of this client. */
  private handle(): ClientHandle {
    return {
      dispatcher: this.dispatcher,
      logger: this.logger,
      closeTimeoutMs: this.options.closeTimeoutMs,
      maxStoredBytes: this.options.odp.maxStoredBytes,
      cutBatch: () => this.cutBatch(),
      setOptOut: (optedOut) => this.setOptOut(optedOut),
      optedOut: () => this.userOptedOut,
      pending: () => ({ odp: this.odp, events: this.queue.peek() }),
      undelivered: () => this.stats_.queued + this.stats_.inFlight,
      summarise: () => this.refusals.summarise(),
      restore: (odp, events) => {
        let taken = 0;
        for (const event of events) {
          if (this.closed || !sameOdp(odp, this.odp) || this.stats_.held >= this.options.odp.queueSize) break;
          this.stats_.accept();
          taken++;
          if (this.queue.push(event) >= this.options.odp.batchSize) this.cutBatch();
        }
        this.cutBatch();
        return taken;
      },
      forgetClaimed: (count) => {
        for (let i = 0; i < count; i++) this.stats_.accept();
        this.stats_.drop(count, 'optedOut', 'queued');
        this.emitter.emit('dropped', { reason: 'optedOut', count, message: `${count} stored events were discarded (optedOut)` });
      },
    };
  }

  /** The implicit `client_initialized` event for the visitor id, once the client is ready (or opted back in). */
  private announceVisitor(): void {
    const vuid = this.vuid;
    if (!vuid || !this.odp || this.options.odp.disabled || this.userOptedOut) return;
    const error = this.sendOdpEvent({ type: 'fullstack', action: 'client_initialized', identifiers: { vuid } });
    if (error) this.logger.warn(`client_initialized not sent: ${error.message}`);
  }

  private refuse(code: OdpErrorCode, message: string, error: OdpError = odpError(code, message)): OdpError {
    this.stats_.reject(code);
    this.refusals.report(code, message);
    return error;
  }

  /**
   * Hands the queued events to the dispatcher as one batch, with the ODP settings they were queued
   * under. `full`: cut because it reached batchSize (the flush timer then serves the next batch).
   */
  private cutBatch(full = false): void {
    if (!full) this.scheduler.cancel();
    if (this.queue.length === 0) return;
    const events = this.queue.take();
    const odp = this.odp;
    if (odp) {
      const delivered = this.dispatcher.dispatch(events, odp);
      const { waitUntil, waitUntilTimeoutMs } = this.options;
      if (this.handOver) this.handOver({ dispatcher: this.dispatcher, logger: this.logger, schedule: this.platform.schedule }, waitUntil!, delivered, events, waitUntilTimeoutMs);
    }
    this.host?.queueChanged();
  }

  private takeDatafile(datafile: ParsedDatafile): void {
    const next = datafile.odp;
    const previous = this.odp;
    const changed = !sameOdp(previous, next);
    // Events queued under the old settings go out with them.
    if (previous && changed) this.cutBatch();
    if (next) this.logger.addSecret(next.publicKey);
    this.odp = next;
    // What an earlier page left for these settings is taken over (restored) once the client is ready;
    // while the user is opted out, it is taken and discarded, counted.
    const takeOver = next && changed && !this.options.odp.disabled;
    this.segments?.configure(next, datafile.json);
    this.emitter.emit('datafileUpdate', { revision: datafile.revision, odp: next });
    if (!this.ready) {
      this.ready = true;
      this.logger.info('ready');
      this.emitter.emit('ready', { odp: next });
      for (const resolve of [...this.readyWaiters]) resolve();
      this.announceVisitor();
    }
    if (takeOver) this.host?.settings(next);
  }
}

/** The `timeoutMs` of a method's options, when it is a number >= 0; never throws (a hostile getter counts as none). */
function timeoutOf(options: { timeoutMs?: number } | undefined): number | undefined {
  try {
    const timeoutMs = options?.timeoutMs;
    return typeof timeoutMs === 'number' && timeoutMs >= 0 ? timeoutMs : undefined;
  } catch {
    return undefined;
  }
}

function sameOdp(a: OdpSettings | null, b: OdpSettings | null): boolean {
  return a?.host === b?.host && a?.publicKey === b?.publicKey;
}


/** The browser's Global Privacy Control signal (`navigator.globalPrivacyControl`). */
function globalPrivacyControl(): boolean {
  return (globalThis as { navigator?: { globalPrivacyControl?: unknown } }).navigator?.globalPrivacyControl === true;
}

/**
 * Returns the id as one flat string. `crypto.randomUUID()` builds it by concatenation, a rope of
 * about 20 pieces (~500 bytes) that a queued event would hold until it is serialised; reading a
 * character makes V8 flatten it into one 36-byte string now, at a cost JSON.stringify pays anyway.
 */
function flatten(id: string): string {
  id.charCodeAt(0);
  return id;
}
