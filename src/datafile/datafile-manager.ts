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

/** Retries of a failed first fetch back off from 1 s to this. */
const MAX_FIRST_FETCH_BACKOFF_MS = 30_000;
/**
 * 403 and 404 say the key is wrong or its datafile not published: a retry a few seconds later
 * cannot help, so those back off further, to this (5 minutes).
 */
const MAX_NOT_FOUND_BACKOFF_MS = 300_000;

/**
 * Holds the datafile: takes one given directly at once, or fetches one for an `sdkKey` and
 * polls it with conditional requests. A datafile that fails to parse or fetch is logged and the
 * last good one is kept. A failure is logged in full the first time (at error level, naming the
 * URL and the status or error); the same failure again is logged at debug level only, so a wrong
 * key does not print a line at every retry; a different failure, or recovering, is logged again.
 */
export class DatafileManager {
  private etag: string | undefined;
  private lastModified: string | undefined;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  private failures = 0;
  private hasDatafile = false;
  /** The last failure's status (0 for a network error or a datafile that was not taken). */
  private lastStatus = 0;
  /** The last failure, as logged (for onReady's rejection); undefined after a success. */
  private lastFailure: string | undefined;

  constructor(
    private readonly source: DatafileSource,
    private readonly transport: Transport,
    private readonly schedule: Platform['schedule'],
    private readonly logger: SafeLogger,
    private readonly onDatafile: (datafile: ParsedDatafile) => void,
  ) {}

  /** Takes the given datafile synchronously, or starts fetching. */
  start(): void {
    const { datafile, sdkKey } = this.source;
    if (datafile !== undefined) this.take(datafile, 'the given datafile');
    // With both, the given datafile serves at once and the sdkKey keeps it up to date.
    if (sdkKey) {
      void this.fetch();
    } else if (datafile === undefined) {
      this.logger.error('createInstance needs a datafile or an sdkKey; the client will never be ready');
    }
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** Why there is no datafile yet, for onReady's rejection: the last failure, with the URL; never the API key (it is not in the URL). */
  problem(): string {
    if (!this.source.sdkKey) return 'no valid datafile was given';
    return this.lastFailure ?? `no answer yet from ${this.url}`;
  }

  private get url(): string {
    return this.source.urlTemplate.replace('{sdkKey}', encodeURIComponent(this.source.sdkKey ?? ''));
  }

  private async fetch(): Promise<void> {
    if (this.stopped) return;
    const headers: Record<string, string> = {};
    if (this.etag) headers['if-none-match'] = this.etag;
    if (this.lastModified) headers['if-modified-since'] = this.lastModified;
    const url = this.url;
    let failure: string | undefined;
    let status = 0;
    try {
      const response = await this.transport.request({ method: 'GET', url, headers, timeoutMs: this.source.requestTimeoutMs });
      if (this.stopped) return;
      status = response.status;
      if (status === 304) {
        // Unchanged: a success.
      } else if (status >= 200 && status < 300) {
        const problem = this.parse(response.body);
        if (problem) {
          failure = `the datafile from ${url} was not taken: ${problem}`;
          status = 0;
        } else {
          this.etag = response.header('etag');
          this.lastModified = response.header('last-modified');
        }
      } else {
        const hint = status === 403 || status === 404 ? ' (is the sdkKey right, and its datafile published?)' : '';
        failure = `fetching the datafile from ${url} failed with status ${status}${hint}`;
      }
    } catch (error) {
      if (this.stopped) return;
      failure = `fetching the datafile from ${url} failed: ${(error as Error).message}`;
    }
    this.report(failure, status);
    this.scheduleNext();
  }

  /** Logs a failure in full when it is new, at debug level when it repeats; and a recovery. */
  private report(failure: string | undefined, status: number): void {
    if (failure === undefined) {
      if (this.failures > 0) this.logger.info(`fetched the datafile from ${this.url} after ${this.failures} failed attempts`);
      this.failures = 0;
      this.lastFailure = undefined;
      return;
    }
    this.failures++;
    const repeated = failure === this.lastFailure;
    this.lastFailure = failure;
    this.lastStatus = status;
    if (repeated) {
      if (this.logger.enabled('debug')) this.logger.debug(`${failure} (attempt ${this.failures})`);
      return;
    }
    const next = this.hasDatafile ? 'the last good datafile is kept' : 'retrying with backoff';
    this.logger.error(`${failure}; ${next} (the same failure again is logged at debug level)`);
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    const interval = this.source.updateIntervalMs;
    let delay: number;
    if (!this.hasDatafile) {
      // Not ready yet: keep trying, whatever the polling interval.
      const cap = this.lastStatus === 403 || this.lastStatus === 404 ? MAX_NOT_FOUND_BACKOFF_MS : MAX_FIRST_FETCH_BACKOFF_MS;
      delay = backoffDelay(Math.max(this.failures, 1), 1000, cap);
      if (interval > 0) delay = Math.min(delay, interval);
    } else if (interval > 0) {
      delay = interval;
    } else {
      return;
    }
    this.cancelTimer = this.schedule(() => {
      this.cancelTimer = undefined;
      void this.fetch();
    }, delay);
  }

  /** Takes a fetched datafile; returns why it was not taken, or undefined. */
  private parse(input: unknown): string | undefined {
    const parsed = parseDatafile(input, this.source.allowInsecureHost);
    if (parsed instanceof Error) return parsed.message;
    this.use(parsed);
    return undefined;
  }

  private take(input: unknown, what: string): void {
    const parsed = parseDatafile(input, this.source.allowInsecureHost);
    if (parsed instanceof Error) this.logger.error(`${what} was not taken: ${parsed.message}`);
    else this.use(parsed);
  }

  private use(parsed: ParsedDatafile): void {
    if (parsed.odpProblem) this.logger.warn(`ODP is not integrated: ${parsed.odpProblem}`);
    this.hasDatafile = true;
    this.onDatafile(parsed);
  }
}
