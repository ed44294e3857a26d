import type { OdpError } from './event/odp-error';

/**
 * The client `createInstance` returns. Every method is safe to call in any state: none throws into
 * the caller, and none rejects except `onReady`.
 */
export interface OdpClient {
  /**
   * Queues an event for ODP. Returns `null` when it was accepted, or an {@link OdpError} that says
   * why it was discarded (its `code`, and a message naming the field). Never throws.
   */
  sendOdpEvent(event: OdpEventInput): OdpError | null;
  /** The positional form: `type` first (empty or null becomes `"fullstack"`), then `action`. */
  sendOdpEvent(type: string | null | undefined, action: string, identifiers: OdpIdentifiers, data?: OdpData | null): OdpError | null;
  /**
   * Resolves once a valid datafile is held. Rejects with an Error when `timeoutMs` passes first
   * (its message names the last cause: the datafile URL and the status or error), when the client
   * is closed first, or at once when it can never be ready (an invalid datafile and no `sdkKey`).
   * While it waits with a timeout, it keeps a Node process alive, so that the caller's `catch` runs.
   */
  onReady(options?: OnReadyOptions): Promise<void>;
  /** True once a valid datafile is held. */
  isReady(): boolean;
  /**
   * Sends everything queued so far and waits until each of those events is delivered or dropped.
   * Never rejects. Resolves `true` when they all settled, `false` when `timeoutMs` passed first: the
   * events not settled then stay queued and are still delivered later (flush is not close).
   */
  flush(options?: FlushOptions): Promise<boolean>;
  /**
   * Stops the client: later events get `closed`, polling stops, what is queued is sent, and what is
   * still undelivered at the deadline is dropped as `closed` (one warning says how many). Resolves
   * (never rejects) by the deadline; then no timer or socket keeps Node alive. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Counters: accepted, delivered, dropped (by reason), rejected calls (by code), pending, unconfirmed, requests. */
  stats(): OdpStats;
  /**
   * Listens to `ready`, `delivered`, `dropped` or `datafileUpdate`; returns a function that
   * unsubscribes. A listener that throws is logged (each distinct message once) and never disturbs
   * delivery or the other listeners.
   */
  on<K extends keyof OdpClientEvents>(name: K, listener: (payload: OdpClientEvents[K]) => void): () => void;
  /** Like {@link on}, for the next event of that name only; the returned function cancels it. */
  once<K extends keyof OdpClientEvents>(name: K, listener: (payload: OdpClientEvents[K]) => void): () => void;
  /**
   * Opts the user out of (or back into) sending. Opting out stops sending at once: every event queued,
   * waiting for a retry or stored in the browser is discarded (counted as dropped with reason
   * `optedOut`), the stored visitor id is removed, and later events get `optedOut`. Opting back in
   * starts clean, with a new visitor id when `vuid` is on. Browsers keep the choice. Never throws.
   */
  setOptOut(optedOut: boolean): void;
  /** Whether the user is opted out (see {@link setOptOut}). */
  isOptedOut(): boolean;
  /** The visitor id when `vuid: true` was configured, else null. */
  getVuid(): string | null;
  /**
   * A context for one user, whose qualified ODP segments it can fetch. Sends the implicit
   * `identified` event when the user id and the visitor id make two identifiers to link.
   * Returns null, with a warning, before the client is ready or for a user id that is not a
   * non-empty string. Never throws.
   */
  createUserContext(userId: string, attributes?: OdpUserAttributes): OdpUserContext | null;
}

/**
 * One user of the host application, made by `client.createUserContext(userId, attributes)`: holds
 * the user's attributes and, once fetched, the ODP segments the user qualifies for.
 */
export interface OdpUserContext {
  /** The id ODP knows the user by (`fs_user_id`, or `vuid` for a visitor id). */
  readonly userId: string;
  /** A copy of the attributes given to `createUserContext`. */
  readonly attributes: OdpUserAttributes;
  /** The segments the user qualified for at the last successful fetch; null before one, or when the last fetch failed. */
  readonly qualifiedSegments: readonly string[] | null;
  /**
   * Fetches (or takes from the cache) the ODP segments, among those the datafile's audiences use,
   * that the user qualifies for. Resolves `true` on success, `false` when it failed (the reason is
   * logged and `qualifiedSegments` becomes null). Never rejects.
   */
  fetchQualifiedSegments(options?: FetchQualifiedSegmentsOptions | readonly OptimizelySegmentOption[]): Promise<boolean>;
  /** True when the last successful fetch found the user in `segment`. */
  isQualifiedFor(segment: string): boolean;
}

/** A value ODP accepts in an event's `data`. `null` is sent as JSON `null`. */
export type OdpDataValue = string | number | boolean | null;

/** Identifiers: names (`fs_user_id`, `email`, `vuid`, ...) to values. A `Map` is accepted too. */
export type OdpIdentifiers = Record<string, string> | Map<string, string>;

/** Event data: names to flat values. A `Map` is accepted too. */
export type OdpData = Record<string, OdpDataValue> | Map<string, OdpDataValue>;

/** The object form of `sendOdpEvent`'s argument. */
export interface OdpEventInput {
  /** The event type; empty or missing becomes `"fullstack"`. */
  type?: string | null;
  /** What happened, e.g. `"purchased"`; required and non-empty. */
  action: string;
  /** At least one identifier with a non-empty value. `FS-USER-ID` and its spellings become `fs_user_id`. */
  identifiers: OdpIdentifiers;
  /** Extra fields; a key named like a default (`idempotence_id`, `data_source`, ...) overrides it. */
  data?: OdpData | null;
}

/** An event as it goes on the wire (one element of the JSON array POSTed to `/v3/events`). */
export interface OdpWireEvent {
  type: string;
  action: string;
  identifiers: Record<string, string>;
  data: Record<string, OdpDataValue>;
}

/** An event as `beforeSend` sees it: validated, with its defaults (`idempotence_id`, `data_source`, …) and the vuid. */
export type OdpEvent = OdpWireEvent;

/** Something with console-like methods; `console` itself qualifies. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** How much the client logs; each level includes the ones after it. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * ODP options; every field is optional. A count above its upper bound is clamped to it, with a warning;
 * an unknown key is ignored, with a warning naming the option likely meant.
 */
export interface OdpOptions {
  /** Turn ODP off: every event returns `odpNotEnabled`. Default `false`. */
  disabled?: boolean;
  /** Events per request; a full batch is sent at once. Default 10, at most 500 (ODP's limit per request). */
  batchSize?: number;
  /** How long the first event of a batch waits for company, in ms; `0` sends at once. Default 1000, at most 60,000. */
  flushIntervalMs?: number;
  /** Most events held at once (queued, in flight or waiting for a retry); beyond it `queueFull`. Default 10,000, at most 1,000,000. */
  queueSize?: number;
  /** Time allowed for one request, in ms. Default 10,000, at most 120,000. */
  requestTimeoutMs?: number;
  /** Retries of a batch after a retryable failure (408, 425, 429, 5xx, network error, timeout). Default 10, at most 100. */
  maxRetries?: number;
  /** First retry delay in ms; it doubles, with jitter, up to `maxBackoffMs`. Default 200, at most 60,000. */
  initialBackoffMs?: number;
  /** Longest retry delay in ms (a longer `Retry-After` is honoured). Default 30,000, at most 300,000. */
  maxBackoffMs?: number;
  /**
   * Requests in flight at once. Default 2: measured against one, it delivers 100,000 events about 30 %
   * sooner for the same CPU, and four gained nothing more. `1` delivers batches strictly in order. At most 16.
   */
  maxConcurrentRequests?: number;
  /** Largest event accepted, in bytes of JSON; larger ones get `eventTooLarge`. Default 32,768, at least 256, at most 1,048,576. */
  maxEventBytes?: number;
  /**
   * `'gzip'`: request bodies are sent gzip-compressed (`Content-Encoding: gzip`), about 5× fewer bytes
   * for batches of 10. Node compresses with zlib; browsers with `CompressionStream` where present, and
   * send plain bodies otherwise and for page-hide (keep-alive) requests. Default `'none'`: ODP does not
   * document that it accepts compressed bodies, and a browser's CORS preflight must allow the header.
   */
  compression?: 'gzip' | 'none';
  /** Accept a plain `http:` ODP host that is not a loopback address. Default `false`. */
  allowInsecureHost?: boolean;
  /**
   * Browsers: most bytes of JSON of undelivered events kept in localStorage (per ODP public key)
   * so that the next page load sends them; older events are kept first. `0` keeps none. Default 262,144, at most 4,194,304.
   */
  maxStoredBytes?: number;
  /** Users whose qualified segments are cached (least recently used go first); `0` turns the cache off. Default 10,000, at most 1,000,000. */
  segmentsCacheSize?: number;
  /** How long a cached segments answer is used, in ms; `0` keeps it until evicted. Default 600,000 (10 minutes). */
  segmentsCacheTimeoutMs?: number;
}

/**
 * Real-Time Segments and user contexts as a client extension: `import { segments } from
 * 'odp-sdk/segments'`, then `createInstance({ ..., segments })`. Node and the runtime builds include
 * it by default; in a page it is what `client.createUserContext` needs (script tag: load
 * `odp-sdk.segments.min.js` after the SDK).
 */
export interface OdpSegments {
  readonly name: 'odp-sdk/segments';
}

/** What `createInstance` takes: a datafile, or an `sdkKey` to fetch one. An unknown key is ignored, with a warning naming the option likely meant. */
export interface OdpClientConfig {
  /** The datafile, as JSON text or an object. */
  datafile?: string | object;
  /** Fetch the datafile for this key (and poll it) when no `datafile` is given. */
  sdkKey?: string;
  /** Where the datafile of an `sdkKey` lives; `{sdkKey}` is replaced. Default `https://cdn.optimizely.com/datafiles/{sdkKey}.json`. */
  datafileUrlTemplate?: string;
  /** How often to poll the datafile, in ms; `0` fetches once. Default 300,000 (5 minutes). */
  datafileUpdateIntervalMs?: number;
  /** ODP batching, retry and transport options. */
  odp?: OdpOptions;
  /** Where log lines go. Default `console`. */
  logger?: Logger;
  /** The least severe level that is logged, in any case. Default `'warn'` (also what an unknown level falls back to, with an error line). */
  logLevel?: LogLevel;
  /** Deadline for `close()` when it is called without one, in ms. Default 5,000. */
  closeTimeoutMs?: number;
  /**
   * Called synchronously with every event (explicit and implicit) after validation and defaults,
   * before it is queued: return it, changed or not (redaction, enrichment: the result is validated
   * again), or `null` to drop it (`sendOdpEvent` then returns the code `filtered`). A hook that
   * throws (or returns nothing) never throws into the caller: the event is refused with
   * `beforeSendFailed`, and each distinct refusal is logged once at error level, then counted.
   */
  beforeSend?: (event: OdpEvent) => OdpEvent | null;
  /**
   * Start opted out: nothing is sent and nothing is stored until `setOptOut(false)`. A choice made
   * with `setOptOut` in a browser is kept in localStorage and wins over this option on later loads.
   * Default `false`.
   */
  optOut?: boolean;
  /**
   * Start opted out when the browser sends the Global Privacy Control signal
   * (`navigator.globalPrivacyControl === true`), unless the user chose otherwise with `setOptOut`.
   * Default `false`.
   */
  honorGlobalPrivacyControl?: boolean;
  /**
   * Give this visitor an anonymous id (`vuid_…`, kept in localStorage under `optimizely-vuid` in
   * browsers), add it to every event as `identifiers.vuid`, and send a `client_initialized` event
   * once ready. Opt-in; `false` also removes a stored id. Default `false`.
   */
  vuid?: boolean;
  /**
   * Real-Time Segments and user contexts (`client.createUserContext`): the `segments` export of
   * `odp-sdk/segments`. Included by default in Node and the runtime builds; pages add it (the
   * script tag by loading `odp-sdk.segments.min.js`), so that pages that only send events do not
   * carry it.
   */
  segments?: OdpSegments;
  /**
   * Serverless hosts: keeps the function alive until delivery ends. Called with each batch's
   * delivery promise (it never rejects) as the batch is cut, e.g. `(p) => ctx.waitUntil(p)` on
   * Cloudflare or `waitUntil` from `@vercel/functions`. With it, a partial batch goes out at the
   * end of the current task and `odp.flushIntervalMs` is ignored: no event waits for a timer that
   * the request would not outlive. Each promise settles within `waitUntilTimeoutMs`.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * With `waitUntil`: the most time a batch's promise may take. What is not delivered by then
   * (a retry through an outage, a long `Retry-After`) is dropped as `waitUntilTimeout`, counted and
   * reported, while the host still runs: Cloudflare and Vercel cancel `waitUntil` work about 30 s
   * after the response, without a word. Default 25,000 (at most 900,000).
   */
  waitUntilTimeoutMs?: number;
}

/** Which build of the SDK a runtime loaded through the package's export conditions (the script-tag bundle names none). */
export type SdkBuild = 'node' | 'browser' | 'worker';

/** Why accepted events were given up. */
export type DropReason =
  /** Retryable failures went on past `maxRetries`. */
  | 'retriesExhausted'
  /** The server answered a non-retryable 4xx (400, 401, 403, 404, ...). */
  | 'rejectedByServer'
  /** A single event was still too large for the server (413). */
  | 'tooLarge'
  /** `close()` reached its deadline before they were delivered. */
  | 'closed'
  /** The user opted out (`setOptOut(true)`): what was waiting was discarded. */
  | 'optedOut'
  /**
   * With `waitUntil`: not delivered within `waitUntilTimeoutMs` of being handed over, so dropped while
   * the host still runs (it would cancel the work about 30 s after the response, silently).
   */
  | 'waitUntilTimeout';

/**
 * Counters for logging or export. `accepted == delivered + dropped + pending + unconfirmed +
 * handedOver` always holds: every accepted event is delivered (a 2xx was seen), dropped (with a
 * reason), pending (queued, waiting for a retry, or in flight), unconfirmed (handed to the browser
 * as the page went, with no answer seen; it stays stored and the next page sends it again with the
 * same id), or handed over (browsers: left stored for another page of the site, which sends it with
 * the same id; 0 elsewhere).
 */
export interface OdpStats {
  /** Events `sendOdpEvent` accepted. */
  accepted: number;
  /** Events the server acknowledged with a 2xx. */
  delivered: number;
  /** Accepted events given up, in all. */
  dropped: number;
  /** Accepted events given up, by reason. */
  droppedByReason: Record<DropReason, number>;
  /** Calls to `sendOdpEvent` that returned an error (never accepted), by code. */
  rejected: Partial<Record<OdpError['code'], number>>;
  /** Events not yet settled in this host: `queued + inFlight`. */
  pending: number;
  /** Events waiting: in the queue or for a retry. */
  queued: number;
  /** Events in requests that have not answered yet. */
  inFlight: number;
  /** Events handed to the browser as the page went whose answer the page never saw (see above). */
  unconfirmed: number;
  /**
   * Browsers: events left in `localStorage` for another page of the site, which sends them with the
   * same ids: undelivered at `close()`'s deadline, or taken over by another page while this one was
   * in the back/forward cache. With them, `accepted == delivered + dropped + pending + unconfirmed + handedOver`.
   */
  handedOver: number;
  /** Requests sent, retries included. */
  requests: number;
  /** Requests that were retries of a failed one. */
  retries: number;
  /** Browsers: writes of undelivered events to localStorage that failed (quota, storage disabled). */
  storageErrors?: number;
}

/** ODP settings read from a datafile. */
export interface OdpSettings {
  /** Where events go: `POST {host}/v3/events` (no trailing slash). */
  host: string;
  /** The ODP public API key, sent as `x-api-key` (never logged). */
  publicKey: string;
}

/** Payloads of the events `client.on()` emits. */
export interface OdpClientEvents {
  /** A valid datafile is held for the first time. */
  ready: { odp: OdpSettings | null };
  /** A batch was delivered (2xx). */
  delivered: { count: number; status: number };
  /** Accepted events were given up. */
  dropped: { reason: DropReason; count: number; status?: number; message: string };
  /** A new datafile was taken (the first one included); `odp` is its usable ODP settings, or null. */
  datafileUpdate: { revision: string | null; odp: OdpSettings | null };
}

/** Options of `onReady`. */
export interface OnReadyOptions {
  /** Reject with an Error when no valid datafile is held after this many ms. */
  timeoutMs?: number;
}

/** Options of `flush`. */
export interface FlushOptions {
  /**
   * Stop waiting after this many ms: `flush` then resolves `false` and the events not yet settled
   * stay queued (they are not dropped). Without it, `flush` waits until every event settles.
   */
  timeoutMs?: number;
}

/** Options of `close`. */
export interface CloseOptions {
  /** How long delivery may go on before what is left is dropped as `closed`, in ms. */
  timeoutMs?: number;
}

/** What a user context keeps about its user; this SDK stores them for the caller and sends none of them. */
export type OdpUserAttributes = Record<string, string | number | boolean | null>;

/** Optimizely's SDK's options of `fetchQualifiedSegments`, as names: `['IGNORE_CACHE']` means `{ ignoreCache: true }`. */
export type OptimizelySegmentOption = 'IGNORE_CACHE' | 'RESET_CACHE';

/** Options of `OdpUserContext.fetchQualifiedSegments`. */
export interface FetchQualifiedSegmentsOptions {
  /** Ask ODP now: neither read nor write the segments cache (nor share another fetch's request). */
  ignoreCache?: boolean;
  /** Empty the whole segments cache first, then fetch and cache the fresh answer. */
  resetCache?: boolean;
}
