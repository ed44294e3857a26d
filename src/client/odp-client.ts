import { Emitter } from '../core/emitter';
import { SafeLogger } from '../core/logger';
import type { ParsedDatafile } from '../datafile/parse-datafile';
import { DatafileManager } from '../datafile/datafile-manager';
import { Dispatcher } from '../dispatcher/dispatcher';
import { buildEvent, type BuildContext, type RawEvent } from '../event/build-event';
import { OdpError, type OdpErrorCode } from '../event/odp-error';
import type { Platform } from '../platform/platform';
import { BatchQueue } from '../queue/batch-queue';
import { FlushScheduler } from '../scheduler/flush-scheduler';
import { StatsTracker } from '../stats/stats-tracker';
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
  OnReadyOptions,
} from '../types';
import { loadOrCreateVuid, VUID_STORAGE_KEY } from '../identity/vuid';
import { resolveOptions, type ResolvedOptions } from './options';

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
  private odp: OdpSettings | null = null;
  private ready = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly readyWaiters = new Set<() => void>();

  constructor(config: OdpClientConfig | undefined, platform: Platform) {
    const { options, problems } = resolveOptions(config);
    this.options = options;
    this.logger = new SafeLogger(options.logger, options.logLevel);
    for (const problem of problems) this.logger.error(`invalid config: ${problem}`);
    const odp = options.odp;
    this.buildContext = { newId: platform.newId, maxEventBytes: odp.maxEventBytes };
    this.transport = platform.createTransport({ maxSockets: odp.maxConcurrentRequests });
    this.scheduler = new FlushScheduler(odp.flushIntervalMs, platform.schedule, () => this.cutBatch());
    if (options.vuid) {
      this.vuid = loadOrCreateVuid(platform.storage, platform.newId);
    } else {
      this.vuid = null;
      platform.storage?.remove(VUID_STORAGE_KEY);
    }
    this.dispatcher = new Dispatcher(odp, this.transport, platform.schedule, this.stats_, this.logger, this.emitter);
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
    await this.dispatcher.flush();
  }

  /**
   * Stops the client: later events get `closed`, polling stops, what is queued is sent, and what
   * is still undelivered at the deadline is dropped as `closed`. Resolves (never rejects) when
   * nothing is left: no timer or socket then keeps Node alive.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      const timeoutMs = typeof options?.timeoutMs === 'number' && options.timeoutMs >= 0 ? options.timeoutMs : this.options.closeTimeoutMs;
      this.datafiles.stop();
      this.cutBatch();
      this.closing = this.dispatcher.close(timeoutMs).catch((error: unknown) => {
        this.logger.error(`close failed: ${String(error)}`);
      });
    }
    return this.closing;
  }

  /** Counters: accepted, delivered, dropped (by reason), rejected calls (by code), queued, in flight, requests. */
  stats(): OdpStats {
    return this.stats_.snapshot();
  }

  /** Listens to `ready`, `delivered`, `dropped` or `datafileUpdate`; returns a function that unsubscribes. */
  on<K extends keyof OdpClientEvents>(name: K, listener: (payload: OdpClientEvents[K]) => void): () => void {
    if (typeof listener !== 'function') return () => {};
    return this.emitter.on(name, listener);
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
      const error = this.refuse('sdkNotReady', 'the datafile is not ready yet; the event was discarded');
      this.logger.warn(`${error.message} (await client.onReady() before sending)`);
      return error;
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
      return this.refuse('queueFull', `the queue holds ${this.options.odp.queueSize} events (odp.queueSize); the event was discarded`);
    }
    this.stats_.accept();
    const length = this.queue.push(event);
    if (length >= this.options.odp.batchSize) this.cutBatch();
    else if (length === 1) this.scheduler.arm();
    return null;
  }

  private refuse(code: OdpErrorCode, message: string, error: OdpError = new OdpError(code, message)): OdpError {
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
    if (odp) this.dispatcher.dispatch(events, odp);
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
    this.emitter.emit('datafileUpdate', { revision: datafile.revision, odp: next });
    if (!this.ready) {
      this.ready = true;
      this.logger.info('ready');
      this.emitter.emit('ready', { odp: next });
      for (const resolve of [...this.readyWaiters]) resolve();
      if (this.vuid && next && !this.options.odp.disabled) {
        const error = this.sendOdpEvent({ type: 'fullstack', action: 'client_initialized', identifiers: { vuid: this.vuid } });
        if (error) this.logger.warn(`client_initialized was not sent: ${error.message}`);
      }
    }
  }
}
