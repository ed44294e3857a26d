import type { SafeLogger } from '../core/logger';
import type { Transport } from '../transport/transport';
import type { FetchQualifiedSegmentsOptions, OdpSettings } from '../types';
import { LruCache } from './lru-cache';
import { fetchSegments, type SegmentsUserKey } from './segments-fetcher';
import { segmentsFromDatafile } from './segments-from-datafile';

export interface SegmentsManagerOptions {
  disabled: boolean;
  cacheSize: number;
  cacheTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * Real-Time Segments as the client sees them. The client takes a factory rather than the class,
 * so that the script-tag bundle can ship without segments (they come as an add-on bundle).
 */
export interface SegmentsService {
  /** Takes a datafile's ODP settings and the datafile (for the segments its audiences use). */
  configure(odp: OdpSettings | null, datafile: Record<string, unknown>): void;
  /** The user's qualified segments, or null when they could not be fetched; never rejects. */
  fetch(userKey: SegmentsUserKey, userValue: string, options: FetchQualifiedSegmentsOptions): Promise<string[] | null>;
  /** Aborts requests in flight; later fetches resolve null. */
  close(): void;
}

export type SegmentsFactory = (options: SegmentsManagerOptions, createTransport: () => Transport, logger: SafeLogger) => SegmentsService;

/** The factory the Node and ESM builds pass to the client. */
export const createSegments: SegmentsFactory = (options, createTransport, logger) => new SegmentsManager(options, createTransport, logger);

/**
 * Real-Time Segments for the client: which segments to ask about (from the datafile), the LRU/TTL
 * cache of answers, and one shared request per user while a fetch is in flight.
 * Resolves `null` (never rejects) when there is no answer; the reason is logged once per request.
 */
export class SegmentsManager implements SegmentsService {
  private odp: OdpSettings | null = null;
  private segments: string[] = [];
  private readonly cache: LruCache<readonly string[]>;
  private readonly inFlight = new Map<string, Promise<readonly string[] | null>>();
  /** Bumped when the ODP settings change, so an answer fetched under the old ones is not cached. */
  private generation = 0;
  private transport: Transport | undefined;
  private closed = false;

  constructor(
    private readonly options: SegmentsManagerOptions,
    private readonly createTransport: () => Transport,
    private readonly logger: SafeLogger,
    now?: () => number,
  ) {
    this.cache = new LruCache(options.cacheSize, options.cacheTimeoutMs, now);
  }

  /** Takes a datafile's ODP settings and segments; a different host or key empties the cache. */
  configure(odp: OdpSettings | null, datafile: Record<string, unknown>): void {
    const segments = segmentsFromDatafile(datafile);
    const previous = this.odp;
    if (previous?.host !== odp?.host || previous?.publicKey !== odp?.publicKey) {
      if (previous !== null || this.cache.size > 0) this.logger.debug('the ODP settings changed: the segments cache was reset');
      this.generation++;
      this.cache.clear();
      this.inFlight.clear();
    }
    this.odp = odp;
    this.segments = segments;
  }

  /** The user's qualified segments, or null when they could not be fetched. */
  fetch(userKey: SegmentsUserKey, userValue: string, options: FetchQualifiedSegmentsOptions): Promise<string[] | null> {
    const what = `fetching qualified segments for ${userKey} failed`;
    if (this.closed) return this.none(`${what}: client closed`);
    if (this.options.disabled) return this.none(`${what}: odp.disabled is set`);
    const odp = this.odp;
    if (!odp) return this.none(`${what}: no ODP host and publicKey in the datafile`);
    if (this.segments.length === 0) return Promise.resolve([]); // nothing to ask about: no request

    const key = JSON.stringify([userKey, userValue, this.segments]);
    const ignoreCache = options.ignoreCache === true;
    const resetCache = options.resetCache === true;
    if (resetCache) this.cache.clear();
    if (!ignoreCache && !resetCache) {
      const cached = this.cache.get(key);
      if (cached) return Promise.resolve([...cached]);
      const shared = this.inFlight.get(key);
      if (shared) return shared.then(copy);
    }

    const generation = this.generation;
    const request = this.request(odp, userKey, userValue, what).then((segments) => {
      if (this.inFlight.get(key) === request) this.inFlight.delete(key);
      if (segments && !ignoreCache && generation === this.generation) this.cache.set(key, segments);
      return segments;
    });
    // An ignoreCache fetch is the caller's own: it neither serves nor joins others.
    if (!ignoreCache) this.inFlight.set(key, request);
    return request.then(copy);
  }

  /** Aborts requests in flight; later fetches resolve null. */
  close(): void {
    this.closed = true;
    this.inFlight.clear();
    this.transport?.close();
    this.transport = undefined;
  }

  private async request(odp: OdpSettings, userKey: SegmentsUserKey, userValue: string, what: string): Promise<readonly string[] | null> {
    this.transport ??= this.createTransport();
    const result = await fetchSegments(this.transport, {
      odp,
      userKey,
      userValue,
      segments: [...this.segments],
      timeoutMs: this.options.requestTimeoutMs,
    });
    if (result.ok) return Object.freeze(result.segments);
    if (this.closed) this.logger.debug(`${what}: the client was closed (${result.reason})`);
    else this.logger.error(`${what}: ${result.reason}`);
    return null;
  }

  private none(message: string): Promise<null> {
    // A state of the client (disabled, not integrated, closed), not a failed request.
    this.logger.warn(message);
    return Promise.resolve(null);
  }
}

function copy(segments: readonly string[] | null): string[] | null {
  return segments ? [...segments] : null;
}
