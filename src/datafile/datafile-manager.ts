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
 * Holds the datafile: takes one given directly at once, or fetches one for an `sdkKey` and
 * polls it with conditional requests. A datafile that fails to parse or fetch is logged and the
 * last good one is kept.
 */
export class DatafileManager {
  private etag: string | undefined;
  private lastModified: string | undefined;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;
  private failures = 0;
  private hasDatafile = false;

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

  private get url(): string {
    return this.source.urlTemplate.replace('{sdkKey}', encodeURIComponent(this.source.sdkKey ?? ''));
  }

  private async fetch(): Promise<void> {
    if (this.stopped) return;
    const headers: Record<string, string> = {};
    if (this.etag) headers['if-none-match'] = this.etag;
    if (this.lastModified) headers['if-modified-since'] = this.lastModified;
    let ok = false;
    try {
      const response = await this.transport.request({ method: 'GET', url: this.url, headers, timeoutMs: this.source.requestTimeoutMs });
      if (this.stopped) return;
      if (response.status === 304) {
        ok = true;
      } else if (response.status >= 200 && response.status < 300) {
        ok = this.take(response.body, 'the fetched datafile');
        if (ok) {
          this.etag = response.header('etag');
          this.lastModified = response.header('last-modified');
        }
      } else {
        this.logger.error(`fetching the datafile failed with status ${response.status}`);
      }
    } catch (error) {
      if (this.stopped) return;
      this.logger.error(`fetching the datafile failed: ${(error as Error).message}`);
    }
    this.failures = ok ? 0 : this.failures + 1;
    this.scheduleNext();
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    const interval = this.source.updateIntervalMs;
    let delay: number;
    if (!this.hasDatafile) {
      // Not ready yet: keep trying, whatever the polling interval.
      delay = backoffDelay(Math.max(this.failures, 1), 1000, MAX_FIRST_FETCH_BACKOFF_MS);
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

  private take(input: unknown, what: string): boolean {
    const parsed = parseDatafile(input, this.source.allowInsecureHost);
    if (parsed instanceof Error) {
      this.logger.error(`${what} was not taken: ${parsed.message}`);
      return false;
    }
    if (parsed.odpProblem) this.logger.warn(`ODP is not integrated: ${parsed.odpProblem}`);
    this.hasDatafile = true;
    this.onDatafile(parsed);
    return true;
  }
}
