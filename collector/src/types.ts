/** A JSON object (not null, not an array): the one shape guard every parser in the collector shares. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keeps the newest `max` entries of a list the caller fills: trims the oldest tenth at a time, so a push stays cheap. */
export function trim<T>(list: T[], max: number): void {
  if (list.length > max + Math.floor(max / 10)) list.splice(0, list.length - max);
}

/** Keeps the newest `max` entries of a Set or a Map (insertion order is age), a tenth at a time. */
export function trimKeys(keys: Set<unknown> | Map<unknown, unknown>, max: number): void {
  if (keys.size <= max + Math.floor(max / 10)) return;
  let excess = keys.size - max;
  for (const key of keys.keys()) {
    if (excess-- <= 0) break;
    keys.delete(key);
  }
}

/** Fault injection for `POST /v3/events`. Applied in this order: hang, resetRate, latencyMs, status, failRate, maxBodyBytes. */
export interface CollectorFaults {
  /** 0..1 share of POST /v3/events requests answered with `failStatus` (default 0). */
  failRate?: number;
  /** Status used for `failRate` failures (default 500). */
  failStatus?: number;
  /** If set, EVERY events request is answered with this status (e.g. 503, 400, 413). A 2xx value only replaces the 202 of a valid batch. */
  status?: number;
  /** If set, sent as Retry-After header on non-2xx answers (seconds or HTTP date). */
  retryAfter?: string;
  /** Delay before answering, in milliseconds. */
  latencyMs?: number;
  /** 0..1 share of events requests whose socket is destroyed without an answer. */
  resetRate?: number;
  /** Accept the request but never answer (until the client gives up or the collector closes). */
  hang?: boolean;
  /** If set, bodies larger than this many bytes on the wire (compressed size for gzip) get 413. */
  maxBodyBytes?: number;
}

/** Fault injection for `POST /v3/graphql`. Applied in this order: hang, latencyMs, status and body. */
export interface GraphqlFaults {
  /** Accept the request but never answer (until the client gives up or the collector closes). */
  hang?: boolean;
  /** Delay before answering, in milliseconds. */
  latencyMs?: number;
  /** Answer EVERY graphql request with this status (with an ODP-style JSON status body unless `body` is set). */
  status?: number;
  /** Answer with this raw text instead of the real answer (status 200 unless `status` is set), e.g. text that is not JSON. */
  body?: string;
}

export interface CollectorOptions {
  /** Default 0 (ephemeral); the CLI defaults to 8787. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Expected x-api-key; default 'W4WzcEs-ABgXorzY7h1LCQ'. Any other key gets 401. */
  apiKey?: string;
  faults?: CollectorFaults;
  /** Where readable lines go (the CLI passes console.log); default: no output. */
  log?: (line: string) => void;
  /** User id -> qualified segment names, for POST /v3/graphql. */
  segments?: Record<string, string[]>;
  graphqlFaults?: GraphqlFaults;
  /**
   * How many of the newest records are kept in `events`, `batches` and `graphql`, and how many ids
   * are remembered for duplicate counting and the inspector's `retry ×N` (the oldest go first, in
   * chunks of a tenth, so a list may hold up to 10 % more between trims). Counters count everything.
   * Default 1,000,000; the CLI keeps 10,000 (`--max-records`).
   */
  maxRecords?: number;
}

export interface ReceivedEvent {
  type: string;
  action: string;
  identifiers: Record<string, string>;
  data: Record<string, unknown>;
}

export interface ReceivedBatch {
  headers: Record<string, string | string[] | undefined>;
  /** Body text, decompressed if it came gzipped ('' when the body exceeded maxBodyBytes). */
  body: string;
  /** Body size on the wire (the compressed size for a gzip body). */
  bytes: number;
  /** Status answered; 0 when no answer was given (hang or reset fault). */
  status: number;
}

export interface CollectorStats {
  /** POST /v3/events requests received (any outcome). */
  requests: number;
  /** Requests answered 2xx. */
  accepted: number;
  /** Requests answered otherwise, or not at all (hang and reset faults); requests - accepted - rejected are still being answered. */
  rejected: number;
  /** Events in 2xx-answered requests (counting duplicates). */
  events: number;
  /** Distinct data.idempotence_id among those, within the last `maxRecords` ids (an event without one counts as distinct). */
  distinctIds: number;
  /** events - distinctIds. */
  duplicates: number;
  /** Bytes of POST /v3/events bodies received (any outcome), as on the wire: the compressed size for gzip. */
  bytes: number;
  /** OPTIONS requests answered. */
  preflights: number;
  /** Peak number of simultaneously open TCP connections. */
  maxOpenConnections: number;
  openConnections: number;
  datafileRequests: number;
  graphqlRequests: number;
}

export interface Collector {
  /** 'http://127.0.0.1:PORT' */
  url: string;
  port: number;
  /** The events from 2xx-answered requests, in arrival order (duplicates included): the newest `maxRecords`. */
  events: ReceivedEvent[];
  /** Each POST /v3/events with its raw body text and the status answered: the newest `maxRecords`. */
  batches: ReceivedBatch[];
  /** Each POST /v3/graphql with its headers, raw body text and the status answered (0 when unanswered): the newest `maxRecords`. */
  graphql: ReceivedBatch[];
  stats(): CollectorStats;
  /** Replaces the fault settings at runtime. Throws on an invalid setting. */
  setFaults(faults: CollectorFaults): void;
  /** Replaces the graphql fault settings at runtime. Throws on an invalid setting. */
  setGraphqlFaults(faults: GraphqlFaults): void;
  /** Sets the segments a user qualifies for in POST /v3/graphql answers; null makes the user unknown. */
  setSegments(userId: string, segments: string[] | null): void;
  /** Overrides what GET /datafiles/{sdkKey}.json serves; a string is served raw, even if it is not valid JSON. */
  setDatafile(sdkKey: string, datafile: object | string): void;
  /** Clears events, batches, graphql requests, counters and the inspector's requests (not faults, datafiles or segments). */
  reset(): void;
  /** Resolves once n events arrived since the start or the last reset (stats().events >= n, whatever `maxRecords` keeps); rejects after timeoutMs (default 5000) or when the collector closes. */
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
  /** Closes the server and destroys every open socket, so nothing keeps Node alive. */
  close(): Promise<void>;
}
