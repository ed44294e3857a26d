import type { SafeLogger } from '../core/logger';
import type { Platform } from '../platform/platform';
import type { Transport } from '../transport/transport';
import { backoffDelay } from '../dispatcher/retry-policy';
import { parseDatafile, type ParsedDatafile } from './parse-datafile';

export interface DatafileSource {
  datafile?: string | object;
  sdkKey?: string;
  urlTemplate: string;
  updateIntervalMs: number;
  requestTimeoutMs: number;
  allowInsecureHost: boolean;
}

/**
 * Holds the datafile: takes one given directly at once, or fetches one for an `sdkKey` and
 * polls it with conditional requests. A datafile that fails to parse or fetch is logged and the
 * last good one is kept. A failure is logged in full the first time (at error level, naming the
 * URL and the status or error); the same failure again is logged at debug level only, so a wrong
 * key does not print a line at every retry; a different failure, or recovering, is logged again.
 */
export interface DatafileManager {
  /** Takes the given datafile synchronously, or starts fetching. */
  start(): void;
  /** Stops polling; an answer that arrives later is ignored. */
  stop(): void;
  /** Why there is no datafile yet, for onReady's rejection: the last failure, with the URL; never the API key (it is not in the URL). */
  problem(): string;
}

/** Retries of a failed first fetch back off from 1 s to this. */
const MAX_FIRST_FETCH_BACKOFF_MS = 30_000;
/**
 * 403 and 404 say the key is wrong or its datafile not published: a retry a few seconds later
 * cannot help, so those back off further, to this (5 minutes).
 */
const MAX_NOT_FOUND_BACKOFF_MS = 300_000;

export function createDatafileManager(
  source: DatafileSource,
  transport: Transport,
  schedule: Platform['schedule'],
  logger: SafeLogger,
  onDatafile: (datafile: ParsedDatafile) => void,
): DatafileManager {
  const { datafile, sdkKey, updateIntervalMs: interval } = source;
  const url = source.urlTemplate.replace('{sdkKey}', encodeURIComponent(sdkKey ?? ''));
  let etag: string | undefined;
  let lastModified: string | undefined;
  let cancelTimer: (() => void) | undefined;
  let stopped = false;
  let hasDatafile = false;
  let failures = 0;
  /** The last failure, as logged (for onReady's rejection); undefined after a success. */
  let lastFailure: string | undefined;

  /** Takes a datafile; returns why it was not taken, or undefined. */
  const take = (input: unknown): string | undefined => {
    const parsed = parseDatafile(input, source.allowInsecureHost);
    if (typeof parsed === 'string') return parsed;
    if (parsed.odpProblem) logger.warn(`ODP not integrated: ${parsed.odpProblem}`);
    hasDatafile = true;
    onDatafile(parsed);
  };

  const fetch = async (): Promise<void> => {
    if (stopped) return;
    const headers: Record<string, string> = {};
    if (etag) headers['if-none-match'] = etag;
    if (lastModified) headers['if-modified-since'] = lastModified;
    let failure: string | undefined;
    let notFound = false;
    try {
      const response = await transport.request({ method: 'GET', url, headers, timeoutMs: source.requestTimeoutMs });
      if (stopped) return;
      const status = response.status;
      // 304: unchanged, a success.
      if (status !== 304) {
        if (status < 200 || status > 299) {
          notFound = status === 403 || status === 404;
          failure = `status ${status}${notFound ? ' (wrong sdkKey?)' : ''}`;
        } else {
          failure = take(response.body);
          if (!failure) {
            etag = response.header('etag');
            lastModified = response.header('last-modified');
          }
        }
      }
    } catch (error) {
      if (stopped) return;
      failure = (error as Error).message;
    }
    if (failure === undefined) {
      if (failures) logger.info(`datafile ${url} fetched after ${failures} failures`);
      failures = 0;
    } else {
      failure = `datafile ${url} failed: ${failure}`;
      failures++;
      if (failure === lastFailure) logger.debug(`${failure} (attempt ${failures})`);
      else logger.error(`${failure}; ${hasDatafile ? 'keeping the last good one' : 'retrying'}`);
    }
    lastFailure = failure;
    // A listener of the datafile just taken may have closed the client.
    if (stopped) return;
    let delay = interval;
    if (!hasDatafile) {
      // Not ready yet: keep trying with backoff, whatever the polling interval (but no slower).
      delay = backoffDelay(failures, 1000, notFound ? MAX_NOT_FOUND_BACKOFF_MS : MAX_FIRST_FETCH_BACKOFF_MS);
      if (interval > 0) delay = Math.min(delay, interval);
    }
    // fetch never rejects: every failure above is caught and reported.
    if (delay > 0) cancelTimer = schedule(fetch, delay);
  };

  return {
    start() {
      if (datafile !== undefined) {
        const problem = take(datafile);
        if (problem) logger.error(`given datafile not taken: ${problem}`);
      }
      // With both, the given datafile serves at once and the sdkKey keeps it up to date.
      if (sdkKey) void fetch();
      else if (datafile === undefined) logger.error('no datafile and no sdkKey: never ready');
    },
    stop() {
      stopped = true;
      cancelTimer?.(); // a timer that already ran: cancelling it does nothing
    },
    problem: () => (sdkKey ? lastFailure ?? `no answer yet from ${url}` : 'no valid datafile given'),
  };
}
