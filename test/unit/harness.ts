/**
 * The unit tier's fakes and the ONE factory per unit under test. Tests build every Dispatcher,
 * client and journal here, so a change to a constructor is adapted in this file only.
 */
import { vi } from 'vitest';
import { captureLogger, type CapturedLogger } from '../support/helpers';
import { Client } from '../../src/client/odp-client';
import { createDatafileManager, type DatafileManager, type DatafileSource } from '../../src/datafile/datafile-manager';
import type { ParsedDatafile } from '../../src/datafile/parse-datafile';
import { Emitter } from '../../src/core/emitter';
import { SafeLogger } from '../../src/core/logger';
import { StatsTracker } from '../../src/core/stats-tracker';
import { Dispatcher, type DispatcherOptions } from '../../src/dispatcher/dispatcher';
import { MergingDispatcher } from '../../src/dispatcher/merging';
import { createJournal, type EventJournal } from '../../src/platform/browser/event-journal';
import type { Batch } from '../../src/dispatcher/dispatcher';
import type { KeyValueStorage, Platform } from '../../src/platform/platform';
import { handOver } from '../../src/client/wait-until';
import type { SegmentsExtension } from '../../src/segments/extension';
import { createUserContext } from '../../src/segments/user-context';
import { createSegments, SegmentsManager, type SegmentsFactory, type SegmentsManagerOptions } from '../../src/segments/segments-manager';
import { TransportError, type HttpRequest, type HttpResponse, type Transport } from '../../src/transport/transport';
import type { LogLevel, Logger, OdpClientConfig, OdpClientEvents, OdpSettings, OdpWireEvent } from '../../src/types';

/** A fixed start time, so that dates in tests (Retry-After, journal staleness) are reproducible. */
export const START = Date.UTC(2030, 0, 1);

/** Lets every pending promise callback run (a macrotask turn, no time passes). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that implements Platform['schedule'] and moves only when told. It also sets the faked
 * Date (vitest fake timers, Date only), because the dispatcher reads Date.now() for close()'s deadline.
 */
export class FakeClock {
  private timers: Timer[] = [];
  private seq = 0;
  private time: number;
  /** Every delay asked of schedule(), in order. */
  readonly delays: number[] = [];

  constructor(start = START) {
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** Platform['schedule']: runs `fn` after `ms` of fake time; returns a cancel function. */
  readonly schedule = (fn: () => void, ms: number): (() => void) => {
    this.delays.push(ms);
    const timer: Timer = { at: this.time + ms, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  };

  /** Timers scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, running each due timer at its own time, settling promises after each. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.setTime(next.at);
      next.fn();
      await settle();
    }
    this.setTime(target);
    await settle();
  }

  /** Runs the earliest timer (moving time to it); false when none is pending. */
  async runNext(): Promise<boolean> {
    const next = this.nextTimer();
    if (!next) return false;
    await this.advance(next.at - this.time);
    return true;
  }

  private nextTimer(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }

  private setTime(time: number): void {
    this.time = time;
    vi.setSystemTime(time);
  }
}

/** How the fake transport answers one request. */
export type Answer =
  | { status: number; headers?: Record<string, string>; body?: string }
  | { error: TransportError['kind']; message?: string }
  /** Rejects with something that is not a TransportError. */
  | { throws: unknown }
  /** Stays pending until the test answers it (or the transport is closed). */
  | 'hang';

export interface Call {
  request: HttpRequest;
  settled: boolean;
  answer(answer: Exclude<Answer, 'hang'>): void;
}

/** A transport whose answers the test scripts, in order; unscripted requests get `fallback`. */
export class FakeTransport implements Transport {
  readonly calls: Call[] = [];
  private readonly script: Answer[] = [];
  fallback: Answer = { status: 202 };
  closes = 0;

  /** Queues answers for the next requests. */
  answer(...answers: Answer[]): this {
    this.script.push(...answers);
    return this;
  }

  request(request: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const call: Call = {
        request,
        settled: false,
        answer(answer) {
          if (call.settled) throw new Error('this request was answered already');
          call.settled = true;
          if ('status' in answer) {
            const headers = answer.headers ?? {};
            resolve({ status: answer.status, header: (name) => headers[name], body: answer.body ?? '' });
          } else if ('error' in answer) {
            reject(new TransportError(answer.error, answer.message ?? answer.error));
          } else {
            reject(answer.throws);
          }
        },
      };
      this.calls.push(call);
      const next = this.script.length ? this.script.shift()! : this.fallback;
      if (next !== 'hang') call.answer(next);
    });
  }

  /** Like the real transports: requests in flight reject as aborted. */
  close(): void {
    this.closes++;
    for (const call of this.calls) if (!call.settled) call.answer({ error: 'aborted', message: 'closed' });
  }

  /** The events in each POST body, in the order the requests were made. */
  bodies(): OdpWireEvent[][] {
    return this.calls.filter((c) => c.request.method === 'POST').map((c) => JSON.parse(c.request.body ?? '[]') as OdpWireEvent[]);
  }
}

// One logger that keeps every line, for both tiers.
export { captureLogger, type CapturedLogger };

/** A DOM Storage in memory; `quotaBytes` makes setItem throw like a full localStorage, `broken` makes every call throw. */
export class FakeStorage implements Storage {
  private readonly map = new Map<string, string>();
  quotaBytes = Infinity;
  broken = false;

  constructor() {
    // Like the DOM's: Object.keys(storage) lists the stored keys (createLocalStorage reads them so).
    // eslint-disable-next-line no-constructor-return
    return new Proxy(this, {
      ownKeys: (target) => (target.check(), [...target.map.keys()]),
      getOwnPropertyDescriptor: (target, key) =>
        typeof key === 'string' && target.map.has(key) ? { value: target.map.get(key), enumerable: true, configurable: true, writable: true } : undefined,
    });
  }

  get length(): number {
    this.check();
    return this.map.size;
  }
  key(index: number): string | null {
    this.check();
    return [...this.map.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    this.check();
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.check();
    let used = value.length + key.length;
    for (const [k, v] of this.map) if (k !== key) used += k.length + v.length;
    if (used > this.quotaBytes) throw new DOMException('quota exceeded', 'QuotaExceededError');
    this.map.set(key, String(value));
  }
  removeItem(key: string): void {
    this.check();
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
  keys(): string[] {
    return [...this.map.keys()];
  }
  [name: string]: unknown;

  private check(): void {
    if (this.broken) throw new DOMException('storage is disabled', 'SecurityError');
  }
}

/** A KeyValueStorage (the platform's, for the vuid) over a Map. */
export function memoryKeyValue(): KeyValueStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    get: (key) => map.get(key) ?? null,
    set: (key, value) => (map.set(key, value), true),
    remove: (key) => void map.delete(key),
    keys: () => [...map.keys()],
  };
}

/** The platform's KeyValueStorage over a FakeStorage, guarded like createLocalStorage's. */
export function keyValueOver(store: FakeStorage): KeyValueStorage {
  const guard = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch {
      return fallback;
    }
  };
  return {
    get: (key) => guard(() => store.getItem(key), null),
    set: (key, value) => guard(() => (store.setItem(key, value), true), false),
    remove: (key) => guard(() => store.removeItem(key), undefined),
    keys: () => guard(() => store.keys(), []),
  };
}

export const ODP: OdpSettings = { host: 'https://odp.test', publicKey: 'pk-test-key' };

/** A wire event with a recognisable id. */
export function wireEvent(n: number, extra: Partial<OdpWireEvent> = {}): OdpWireEvent {
  return {
    type: 'fullstack',
    action: 'a',
    identifiers: { fs_user_id: `u${n}` },
    data: { idempotence_id: `id-${n}`, data_source_type: 'sdk', data_source: 'odp-sdk', data_source_version: '0' },
    ...extra,
  };
}

/** The idempotence ids of events, for compact assertions. */
export const ids = (events: OdpWireEvent[]): unknown[] => events.map((event) => event.data.idempotence_id);

// ---------------------------------------------------------------------------------------------
// Dispatcher

export interface DispatcherRig {
  dispatcher: Dispatcher;
  clock: FakeClock;
  transport: FakeTransport;
  stats: StatsTracker;
  log: CapturedLogger;
  delivered: Array<OdpClientEvents['delivered']>;
  dropped: Array<OdpClientEvents['dropped']>;
  /** Batches the observer (a journal) was told of, when `observe` was asked for. */
  added: Batch[];
  removed: Batch[];
  /** Counts `n` events as accepted (as the client does) and dispatches them as one batch. */
  send(events: OdpWireEvent[] | number, odp?: OdpSettings): OdpWireEvent[];
}

let nextEvent = 0;

/**
 * The dispatcher under test, with a fake clock and a fake transport.
 * Math.random is fixed (`random`, default 1: backoff at its ceiling) so that delays are exact;
 * test/unit/setup.ts restores it after each test.
 */
export function makeDispatcher(
  options: Partial<DispatcherOptions> = {},
  { concurrency = 1, random = 1, observe = false, newId, merging = true }: { concurrency?: number; random?: number; observe?: boolean; newId?: () => string; merging?: boolean } = {},
): DispatcherRig {
  Math.random = () => random;
  const clock = new FakeClock();
  const transport = new FakeTransport();
  const stats = new StatsTracker();
  const log = captureLogger();
  const emitter = new Emitter<OdpClientEvents>();
  const delivered: Array<OdpClientEvents['delivered']> = [];
  const dropped: Array<OdpClientEvents['dropped']> = [];
  emitter.on('delivered', (payload) => delivered.push(payload));
  emitter.on('dropped', (payload) => dropped.push(payload));
  let newIds = 0;
  const added: Batch[] = [];
  const removed: Batch[] = [];
  // The Node and runtime builds' dispatcher merges a backlog; `merging: false` is the browsers'.
  const dispatcher = new (merging ? MergingDispatcher : Dispatcher)(
    { maxConcurrentRequests: concurrency, requestTimeoutMs: 1_000, maxRetries: 3, initialBackoffMs: 100, maxBackoffMs: 1_000, keepaliveBytes: 0, ...options },
    transport,
    clock.schedule,
    newId ?? (() => `new-${newIds++}`),
    stats,
    new SafeLogger(log, 'debug'),
    emitter,
  );
  if (observe) dispatcher.observer = { added: (batch) => added.push(batch), removed: (batch) => removed.push(batch) };
  return {
    dispatcher,
    added,
    removed,
    clock,
    transport,
    stats,
    log,
    delivered,
    dropped,
    send(events, odp = ODP) {
      const batch = typeof events === 'number' ? Array.from({ length: events }, () => wireEvent(nextEvent++)) : events;
      for (let i = 0; i < batch.length; i++) stats.accept();
      dispatcher.dispatch(batch, odp);
      return batch;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Client

export const PUBLIC_KEY = 'W4WzcEs-ABgXorzY7h1LCQ';

/** A minimal datafile whose ODP integration points at `host`. */
export function datafile(host = 'https://odp.test', publicKey = PUBLIC_KEY, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { version: '4', revision: '7', integrations: [{ key: 'odp', host, publicKey }], typedAudiences: [], ...extra };
}

/**
 * A page for attachPage(): document, window, navigator and addEventListener as globals (unstubbed
 * after each test by test/unit/setup.ts), and methods that fire the page's events.
 */
export class FakePage {
  readonly document = Object.assign(new EventTarget(), { visibilityState: 'visible' as string });
  readonly window = new EventTarget();
  readonly navigator: { onLine?: boolean; locks?: unknown; globalPrivacyControl?: unknown } = { onLine: true };

  constructor() {
    vi.stubGlobal('document', this.document);
    vi.stubGlobal('window', this.window);
    vi.stubGlobal('navigator', this.navigator);
    vi.stubGlobal('addEventListener', this.window.addEventListener.bind(this.window));
  }

  hidden(): void {
    this.document.visibilityState = 'hidden';
    this.document.dispatchEvent(new Event('visibilitychange'));
  }
  visible(): void {
    this.document.visibilityState = 'visible';
    this.document.dispatchEvent(new Event('visibilitychange'));
  }
  pagehide(persisted = false): void {
    this.window.dispatchEvent(Object.assign(new Event('pagehide'), { persisted }));
  }
  /** The Page Lifecycle API's `freeze` and `resume` (Chromium), fired on the document. */
  freeze(): void {
    this.document.dispatchEvent(new Event('freeze'));
  }
  resume(): void {
    this.document.dispatchEvent(new Event('resume'));
  }
  pageshow(persisted = true): void {
    this.window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted }));
  }
  online(on: boolean): void {
    this.navigator.onLine = on;
    this.window.dispatchEvent(new Event(on ? 'online' : 'offline'));
  }
  storage(key: string | null, newValue: string | null): void {
    this.window.dispatchEvent(Object.assign(new Event('storage'), { key, newValue }));
  }
}

export interface ClientRig {
  client: Client;
  clock: FakeClock;
  transport: FakeTransport;
  log: CapturedLogger;
  platform: Platform;
  /** Calls to holdOpen() and to the functions it returned. */
  holds: { taken: number; released: number };
  /** The options of each createTransport() call, in order. */
  transportsMade: Array<{ maxSockets: number }>;
}

let nextId = 0;

/** The client under test on a fake platform: fake clock, one fake transport. */
export function makeClient(
  config: OdpClientConfig = { datafile: datafile() },
  extra: {
    attach?: (schedule: Platform['schedule']) => Platform['attach'];
    keepaliveBytes?: number;
    storage?: KeyValueStorage;
    /** A segments service factory; by default the real one; null: a client without the segments extension (a page's build). */
    segments?: SegmentsFactory | null;
    logLevel?: LogLevel;
    answers?: Answer[];
  } = {},
): ClientRig {
  const clock = new FakeClock();
  // Scripted before the client exists: its constructor may already fetch the datafile.
  const transport = new FakeTransport().answer(...(extra.answers ?? []));
  const log = captureLogger();
  const holds = { taken: 0, released: 0 };
  const transportsMade: Array<{ maxSockets: number }> = [];
  const platform: Platform = {
    createTransport: (options) => (transportsMade.push(options), transport),
    schedule: clock.schedule,
    newId: () => `00000000-0000-4000-8000-${String(nextId++).padStart(12, '0')}`,
    holdOpen: () => {
      holds.taken++;
      return () => void holds.released++;
    },
    storage: extra.storage,
    keepaliveBytes: extra.keepaliveBytes ?? 0,
    attach: extra.attach?.(clock.schedule),
  };
  // A segments factory given by a test goes in as the segments extension, with the real user contexts.
  const factory = extra.segments === undefined ? createSegments : extra.segments;
  const segments = factory ? ({ name: 'odp-sdk/segments', service: factory, userContext: createUserContext } as SegmentsExtension) : undefined;
  const client = new Client({ logger: log, logLevel: extra.logLevel ?? 'debug', ...config }, platform, { segments, handOver, dispatcher: MergingDispatcher });
  return { client, clock, transport, log, platform, holds, transportsMade };
}

// ---------------------------------------------------------------------------------------------
// Journal

/** The browser journal over a fake localStorage; ids it draws are `jid-n`; its timers never run unless `schedule` is a clock's. */
export function makeJournal(
  local = new FakeStorage(),
  maxBytes = 100_000,
  schedule: Platform['schedule'] = () => () => {},
): { journal: EventJournal; local: FakeStorage; storage: KeyValueStorage } {
  let n = 0;
  const storage = keyValueOver(local);
  return { journal: createJournal(storage, maxBytes, () => `jid-${n++}`, schedule), local, storage };
}

// ---------------------------------------------------------------------------------------------
// Datafile manager and segments manager

/** The datafile manager with a fake clock and transport; `taken` collects what it hands on, then `onTaken` runs. */
export function makeDatafileManager(source: Partial<DatafileSource> = {}, onTaken?: (manager: DatafileManager) => void): {
  manager: DatafileManager;
  clock: FakeClock;
  transport: FakeTransport;
  log: CapturedLogger;
  taken: ParsedDatafile[];
} {
  const clock = new FakeClock();
  const transport = new FakeTransport();
  const log = captureLogger();
  const taken: ParsedDatafile[] = [];
  const manager = createDatafileManager(
    { urlTemplate: 'https://cdn.test/{sdkKey}.json', updateIntervalMs: 0, requestTimeoutMs: 1_000, allowInsecureHost: false, ...source },
    transport,
    clock.schedule,
    new SafeLogger(log, 'debug'),
    (parsed) => {
      taken.push(parsed);
      onTaken?.(manager);
    },
  );
  return { manager, clock, transport, log, taken };
}

/** The segments manager with a fake transport (made on first use, as the client's factory does) and a fake now. */
export function makeSegmentsManager(options: Partial<SegmentsManagerOptions> = {}): {
  manager: SegmentsManager;
  transport: FakeTransport;
  log: CapturedLogger;
  transportsMade: () => number;
  time: { now: number };
} {
  const transport = new FakeTransport();
  const log = captureLogger();
  let made = 0;
  const time = { now: START };
  const manager = new SegmentsManager(
    { disabled: false, cacheSize: 100, cacheTimeoutMs: 60_000, requestTimeoutMs: 1_000, ...options },
    () => (made++, transport),
    new SafeLogger(log, 'debug'),
    () => time.now,
  );
  return { manager, transport, log, transportsMade: () => made, time };
}
