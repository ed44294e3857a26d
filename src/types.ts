import type { OdpError } from './event/odp-error';

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

/** ODP options; every field is optional. */
export interface OdpOptions {
  /** Turn ODP off: every event returns `odpNotEnabled`. Default `false`. */
  disabled?: boolean;
  /** Events per request; a full batch is sent at once. Default 10. */
  batchSize?: number;
  /** How long the first event of a batch waits for company, in ms; `0` sends at once. Default 1000. */
  flushIntervalMs?: number;
  /** Most events held at once (queued, in flight or waiting for a retry); beyond it `queueFull`. Default 10,000. */
  queueSize?: number;
  /** Time allowed for one request, in ms. Default 10,000. */
  requestTimeoutMs?: number;
  /** Retries of a batch after a retryable failure (408, 425, 429, 5xx, network error, timeout). Default 10. */
  maxRetries?: number;
  /** First retry delay in ms; it doubles, with jitter, up to `maxBackoffMs`. Default 200. */
  initialBackoffMs?: number;
  /** Longest retry delay in ms (a longer `Retry-After` is honoured). Default 30,000. */
  maxBackoffMs?: number;
  /**
   * Requests in flight at once. Default 2: measured against one, it delivers 100,000 events about 30 %
   * sooner for the same CPU, and four gained nothing more. `1` delivers batches strictly in order.
   */
  maxConcurrentRequests?: number;
  /** Largest event accepted, in bytes of JSON; larger ones get `eventTooLarge`. Default 32,768. */
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
   * so that the next page load sends them; older events are kept first. `0` keeps none. Default 262,144.
   */
  maxStoredBytes?: number;
  /** Users whose qualified segments are cached (least recently used go first); `0` turns the cache off. Default 10,000. */
  segmentsCacheSize?: number;
  /** How long a cached segments answer is used, in ms; `0` keeps it until evicted. Default 600,000 (10 minutes). */
  segmentsCacheTimeoutMs?: number;
}

/** What `createInstance` takes: a datafile, or an `sdkKey` to fetch one. */
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
  /** The least severe level that is logged. Default `'warn'`. */
  logLevel?: LogLevel;
  /** Deadline for `close()` when it is called without one, in ms. Default 5,000. */
  closeTimeoutMs?: number;
  /**
   * Called synchronously with every event (explicit and implicit) after validation and defaults,
   * before it is queued: return it, changed or not (redaction, enrichment: the result is validated
   * again), or `null` to drop it (`sendOdpEvent` then returns the code `filtered`). A hook that
   * throws never throws into the caller: the event is refused with `beforeSendFailed`, and each
   * distinct error message is logged once.
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
   * Serverless hosts: keeps the function alive until delivery ends. Called with each batch's
   * delivery promise (it never rejects) as the batch is cut, e.g. `(p) => ctx.waitUntil(p)` on
   * Cloudflare or `waitUntil` from `@vercel/functions`. With it, a partial batch goes out at the
   * end of the current task and `odp.flushIntervalMs` is ignored: no event waits for a timer that
   * the request would not outlive.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
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
  | 'optedOut';

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
  host: string;
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

/** Options of `close`. */
export interface CloseOptions {
  /** How long delivery may go on before what is left is dropped as `closed`, in ms. */
  timeoutMs?: number;
}

/** What a user context keeps about its user; this SDK stores them for the caller and sends none of them. */
export type OdpUserAttributes = Record<string, string | number | boolean | null>;

/** Options of `OdpUserContext.fetchQualifiedSegments`. */
export interface FetchQualifiedSegmentsOptions {
  /** Ask ODP now: neither read nor write the segments cache (nor share another fetch's request). */
  ignoreCache?: boolean;
  /** Empty the whole segments cache first, then fetch and cache the fresh answer. */
  resetCache?: boolean;
}
