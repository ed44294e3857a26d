import { isRecord } from '../core/values';
import { Emitter } from '../core/emitter';
import { SafeLogger } from '../core/logger';
import type { ParsedDatafile } from '../datafile/parse-datafile';
import { DatafileManager } from '../datafile/datafile-manager';
import { Dispatcher } from '../dispatcher/dispatcher';
import { buildEvent, type BuildContext, type RawEvent } from '../event/build-event';
import { odpError, OdpError, type OdpErrorCode } from '../event/odp-error';
import type { PageLifecycle, Platform } from '../platform/platform';
import { BatchQueue } from '../queue/batch-queue';
import { FlushScheduler } from '../queue/flush-scheduler';
import { StatsTracker } from '../core/stats-tracker';
import type { Transport } from '../transport/transport';
import type {
  CloseOptions,
  OdpClientConfig,
  OdpClientEvents,
  OdpData,
  OdpEventInput,
  OdpIdentifiers,
  OdpSettings,
  OdpStats,
  OdpWireEvent,
  OnReadyOptions,
} from '../types';
import { loadOrCreateVuid, VUID_STORAGE_KEY } from './vuid';
import type { SegmentsFactory, SegmentsService } from '../segments/segments-manager';
import { identifyIdentifiers, OdpUserContext } from '../segments/user-context';
import type { OdpUserAttributes } from '../types';
import { resolveOptions, type ResolvedOptions } from './options';

const NOT_READY = 'the datafile is not ready yet; event discarded';
/** Segments fetches for different users may run side by side. */
const SEGMENTS_MAX_SOCKETS = 8;

/**
 * The client: validates events and hands them to the queue. Everything after that (batching,
 * sending, retrying) happens off the caller's path.
 */
export class OdpClient {
  private readonly options: ResolvedOptions;
  private readonly logger: SafeLogger;
  private readonly emitter = new Emitter<OdpClientEvents>();
  private readonly stats_ = new StatsTracker();
  private readonly queue = new BatchQueue();
  private readonly scheduler: FlushScheduler;
  private readonly transport: Transport;
  private readonly dispatcher: Dispatcher;
  private readonly datafiles: DatafileManager;
  private readonly buildContext: BuildContext;
  private readonly vuid: string | null;
  private readonly segments: SegmentsService | undefined;
  private odp: OdpSettings | null = null;
  private ready = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly readyWaiters = new Set<() => void>();
  private unwatchPage: (() => void) | undefined;
  private cancelSave: (() => void) | undefined;

  /** `segments` adds Real-Time Segments (user contexts fetch none without it). */
  constructor(
    config: OdpClientConfig | undefined,
    private readonly platform: Platform,
    segments?: SegmentsFactory,
  ) {
    const { options, problems } = resolveOptions(config);
    this.options = options;
    this.logger = new SafeLogger(options.logger, options.logLevel);
    for (const problem of problems) this.logger.error(`invalid config: ${problem}`);
    const odp = options.odp;
    this.buildContext = { maxEventBytes: odp.maxEventBytes };
    this.transport = platform.createTransport({ maxSockets: odp.maxConcurrentRequests });
    this.scheduler = new FlushScheduler(odp.flushIntervalMs, platform.schedule, () => this.cutBatch());
    if (options.vuid) {
      this.vuid = loadOrCreateVuid(platform.storage, platform.newId);
    } else {
      this.vuid = null;
      platform.storage?.remove(VUID_STORAGE_KEY);
    }
    const page = platform.page;
    this.dispatcher = new Dispatcher(
      { ...odp, keepaliveBytes: page?.keepaliveBytes },
      this.transport,
      platform.schedule,
      this.stats_,
      this.logger,
      this.emitter,
      platform.createLane(odp.maxConcurrentRequests),
    );
    if (page) this.watchPage(page);
    this.segments = segments?.(
      { disabled: odp.disabled, cacheSize: odp.segmentsCacheSize, cacheTimeoutMs: odp.segmentsCacheTimeoutMs, requestTimeoutMs: odp.requestTimeoutMs },
      // Its own transport: a segments fetch is on the caller's decision path and must not queue behind event batches.
      () => platform.createTransport({ maxSockets: SEGMENTS_MAX_SOCKETS }),
      this.logger,
    );
    this.datafiles = new DatafileManager(
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
  sendOdpEvent(...args: unknown[]): OdpError | null {
    try {
      return this.accept(args);
    } catch (error) {
      // Unreachable by design; the promise to the host is that nothing escapes.
      return this.refuse('invalidData', `the event could not be read: ${String(error)}`);
    }
  }

  /** Resolves once a valid datafile is held; with `timeoutMs`, rejects with an Error when time runs out. */
  onReady(options: OnReadyOptions = {}): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.readyWaiters.delete(done);
        resolve();
      };
      this.readyWaiters.add(done);
      const timeoutMs = options?.timeoutMs;
      if (typeof timeoutMs === 'number' && timeoutMs >= 0) {
        timer = setTimeout(() => {
          this.readyWaiters.delete(done);
          reject(new Error(`odp-sdk: no valid datafile within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /** Sends everything queued so far; resolves (never rejects) once each of those events is delivered or dropped. */
  async flush(): Promise<void> {
    this.cutBatch();
    const release = this.platform.holdOpen?.();
    try {
      await this.dispatcher.flush();
    } finally {
      release?.();
    }
  }

  /**
   * Stops the client: later events get `closed`, polling stops, what is queued is sent, and what
   * is still undelivered at the deadline is dropped as `closed`. Resolves (never rejects) when
   * nothing is left: no timer or socket then keeps Node alive.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.unwatchPage?.();
      const timeoutMs = typeof options?.timeoutMs === 'number' && options.timeoutMs >= 0 ? options.timeoutMs : this.options.closeTimeoutMs;
      this.datafiles.stop();
      this.segments?.close();
      this.cutBatch();
      const release = this.platform.holdOpen?.();
      this.closing = this.dispatcher
        .close(timeoutMs)
        .catch((error: unknown) => {
          this.logger.error(`close failed: ${String(error)}`);
        })
        .finally(() => release?.());
    }
    return this.closing;
  }

  /** Counters: accepted, delivered, dropped (by reason), rejected calls (by code), queued, in flight, requests. */
  stats(): OdpStats {
    const stats = this.stats_.snapshot();
    const journal = this.platform.page?.journal;
    if (journal) stats.storageErrors = journal.errors;
    return stats;
  }

  /** Listens to `ready`, `delivered`, `dropped` or `datafileUpdate`; returns a function that unsubscribes. */
  on<K extends keyof OdpClientEvents>(name: K, listener: (payload: OdpClientEvents[K]) => void): () => void {
    if (typeof listener !== 'function') return () => {};
    return this.emitter.on(name, listener);
  }

  /**
   * A context for one user, whose qualified ODP segments it can fetch. Sends the implicit
   * `identified` event when the user id and the visitor id make two identifiers to link.
   * Returns null, with a warning, before the client is ready (the identify event is discarded
   * too) or for a user id that is not a non-empty string. Never throws.
   */
  createUserContext(userId: string, attributes?: OdpUserAttributes): OdpUserContext | null {
    try {
      if (!this.ready) {
        this.logger.warn('createUserContext: the datafile is not ready yet; no user context was made and its identified event was discarded (await client.onReady() first)');
        // Counted like every event discarded before ready, when there was one to send.
        if (typeof userId === 'string' && userId !== '' && Object.keys(identifyIdentifiers(userId, this.vuid)).length >= 2) {
          this.refuse('sdkNotReady', NOT_READY);
        }
        return null;
      }
      if (typeof userId !== 'string' || userId === '') {
        this.logger.error('createUserContext: userId must be a non-empty string');
        return null;
      }
      const isObject = isRecord(attributes);
      if (attributes !== undefined && !isObject) this.logger.warn('createUserContext: attributes must be an object');
      const user = new OdpUserContext(userId, isObject ? attributes : {}, {
        fetchSegments: (userKey, userValue, options) => {
          if (this.segments) return this.segments.fetch(userKey, userValue, options);
          this.logger.error('Real-Time Segments are not in this bundle: load odp-sdk.segments.min.js after odp-sdk.umd.min.js');
          return Promise.resolve(null);
        },
      });
      const identifiers = identifyIdentifiers(userId, this.vuid);
      if (Object.keys(identifiers).length >= 2 && !this.options.odp.disabled && this.odp) {
        const error = this.sendOdpEvent({ type: 'fullstack', action: 'identified', identifiers });
        if (error) this.logger.warn(`identified not sent: ${error.message}`);
      }
      return user;
    } catch (error) {
      // Unreachable by design (a hostile attributes object at most); nothing escapes to the host.
      this.logger.error(`createUserContext failed: ${String(error)}`);
      return null;
    }
  }

  /** The visitor id when `vuid: true` was configured, else null. */
  getVuid(): string | null {
    return this.vuid;
  }

  /** True once a valid datafile is held. */
  isReady(): boolean {
    return this.ready;
  }

  private accept(args: unknown[]): OdpError | null {
    if (!this.ready) {
      this.logger.warn(`${NOT_READY} (await client.onReady() before sending)`);
      return this.refuse('sdkNotReady', NOT_READY);
    }
    if (this.options.odp.disabled) return this.refuse('odpNotEnabled', 'ODP is disabled in the client options (odp.disabled)');
    const odp = this.odp;
    if (!odp) return this.refuse('odpNotIntegrated', 'the datafile has no usable ODP integration (host and publicKey)');
    const first = args[0];
    // The object itself goes in, so that even a hostile getter is read under buildEvent's guard.
    const raw: RawEvent =
      typeof first === 'object' && first !== null
        ? (first as RawEvent)
        : { type: first, action: args[1], identifiers: args[2], data: args[3] };
    const event = buildEvent(raw, this.buildContext);
    if (event instanceof OdpError) return this.refuse(event.code, event.message, event);
    if (this.vuid && event.identifiers.vuid === undefined) event.identifiers.vuid = this.vuid;
    if (this.closed) return this.refuse('closed', 'the client is closed');
    if (this.stats_.held >= this.options.odp.queueSize) {
      return this.refuse('queueFull', `the queue is full (odp.queueSize ${this.options.odp.queueSize}); event discarded`);
    }
    if (event.data.idempotence_id === '') event.data.idempotence_id = flatten(this.platform.newId());
    this.stats_.accept();
    const length = this.queue.push(event);
    if (length >= this.options.odp.batchSize) this.cutBatch();
    else if (length === 1) this.scheduler.arm();
    this.changed();
    return null;
  }

  /** Browsers: hiding the page sends what waits with keep-alive; the journal keeps what is undelivered for the next page load. */
  private watchPage(page: PageLifecycle): void {
    const dispatcher = this.dispatcher;
    dispatcher.setOnline(page.online());
    dispatcher.onChange = () => this.changed();
    this.unwatchPage = page.watch({
      hide: (leaving, persisted) => {
        this.cutBatch();
        dispatcher.pageHidden(leaving);
        this.save(leaving && !persisted);
      },
      show: () => {
        dispatcher.pageShown();
        this.save(false);
      },
      online: (online) => dispatcher.setOnline(online),
    });
  }

  /** Undelivered events changed: journal them once the current task is done. */
  private changed(): void {
    if (this.platform.page?.journal) this.cancelSave ??= this.platform.schedule(() => this.save(false), 0);
  }

  private save(leaving: boolean): void {
    this.cancelSave?.();
    this.cancelSave = undefined;
    const journal = this.platform.page?.journal;
    if (!journal) return;
    // The queue holds less than a batch and has no peek: take and put back.
    const queued = this.queue.take();
    for (const event of queued) this.queue.push(event);
    const byKey: Record<string, OdpWireEvent[]> = {};
    for (const { odp, events } of [...this.dispatcher.held(), { odp: this.odp, events: queued }]) {
      if (odp) (byKey[odp.publicKey] ??= []).push(...events);
    }
    journal.save(byKey, this.options.odp.maxStoredBytes, leaving);
  }

  /** Events an earlier page left undelivered go out first, with their original ids. */
  private restore(odp: OdpSettings): void {
    const events = this.platform.page?.journal?.claim(odp.publicKey) ?? [];
    if (!events.length) return;
    let lost = 0;
    for (const event of events) {
      if (this.stats_.held >= this.options.odp.queueSize) {
        lost++;
        continue;
      }
      this.stats_.accept();
      if (this.queue.push(event) >= this.options.odp.batchSize) this.cutBatch();
    }
    this.cutBatch();
    this.logger.info(`sending ${events.length} events an earlier page left undelivered`);
    if (lost) this.logger.warn(`${lost} stored events were discarded: the queue is full (odp.queueSize)`);
  }

  private refuse(code: OdpErrorCode, message: string, error: OdpError = odpError(code, message)): OdpError {
    this.stats_.reject(code);
    if (this.logger.enabled('debug')) this.logger.debug(`event discarded: ${code}: ${message}`);
    return error;
  }

  /** Hands the queued events to the dispatcher as one batch, with the ODP settings they were queued under. */
  private cutBatch(): void {
    this.scheduler.cancel();
    if (this.queue.length === 0) return;
    const events = this.queue.take();
    const odp = this.odp;
    if (!odp) return;
    const delivered = this.dispatcher.dispatch(events, odp);
    const { waitUntil } = this.options;
    try {
      waitUntil?.(delivered);
    } catch (error) {
      // An unbound `ctx.waitUntil` throws "Illegal invocation"; the host's mistake must not become its crash.
      this.logger.error(`waitUntil threw (bind it to its ctx): ${String(error)}`);
    }
  }

  private takeDatafile(datafile: ParsedDatafile): void {
    const next = datafile.odp;
    const previous = this.odp;
    if (previous && (!next || next.host !== previous.host || next.publicKey !== previous.publicKey)) {
      // Events queued under the old settings go out with them.
      this.cutBatch();
    }
    if (next) this.logger.addSecret(next.publicKey);
    this.odp = next;
    this.segments?.configure(next, datafile.json);
    this.emitter.emit('datafileUpdate', { revision: datafile.revision, odp: next });
    if (!this.ready) {
      this.ready = true;
      this.logger.info('ready');
      if (next && !this.options.odp.disabled) this.restore(next);
      this.emitter.emit('ready', { odp: next });
      for (const resolve of [...this.readyWaiters]) resolve();
      if (this.vuid && next && !this.options.odp.disabled) {
        const error = this.sendOdpEvent({ type: 'fullstack', action: 'client_initialized', identifiers: { vuid: this.vuid } });
        if (error) this.logger.warn(`client_initialized not sent: ${error.message}`);
      }
    }
  }
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
