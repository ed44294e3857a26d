// Shared by the chaos and soak suites: fault drivers that steer the real collector, paced traffic,
// samplers for held events and RSS, and the summary line (the accounting is in ./accounting).
import { startCollector, type Collector, type CollectorFaults, type ReceivedEvent } from '../../collector/src/collector';
import { createInstance, type OdpClient } from '../../src/index';
import type { OdpClientConfig } from '../../src/types';
import { DROP_REASONS, type Accounting, type Ledger } from './accounting';
import { captureLogger, fixtureDatafile, sleep, type CapturedLogger } from './helpers';

/** An integer from the environment (e.g. CHAOS_EVENTS), or the fallback. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/**
 * The collector side of a scenario. An outage really stops the server (connection refused) and
 * restarts it on the same port, so events can land in several collector instances: `wire()`
 * joins them in arrival order.
 */
export class CollectorHost {
  private readonly retired: Collector[] = [];
  private current: Collector | undefined;
  private port = 0;
  private log: ((line: string) => void) | undefined;
  /** Requests counted by instances already drained. */
  private drainedRequests = 0;

  static async start(faults: CollectorFaults = {}, log?: (line: string) => void): Promise<CollectorHost> {
    const host = new CollectorHost();
    host.current = await startCollector({ faults, log });
    host.port = host.current.port;
    host.log = log;
    return host;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get up(): boolean {
    return this.current !== undefined;
  }

  setFaults(faults: CollectorFaults): void {
    this.current?.setFaults(faults);
  }

  /** Stops listening and destroys every socket: the client then sees refused connections. */
  async down(): Promise<void> {
    const collector = this.current;
    if (!collector) return;
    this.current = undefined;
    this.retired.push(collector);
    await collector.close();
  }

  /** Listens again on the same port, with no faults. */
  async restart(): Promise<void> {
    if (this.current) return;
    this.current = await startCollector({ port: this.port, log: this.log });
  }

  /**
   * Takes the events received so far out of every instance and forgets them there (and the
   * stopped instances), so a long run does not hold every event twice. Synchronous: no request
   * can land between the copy and the reset.
   */
  drain(): ReceivedEvent[] {
    const out = this.retired.flatMap((collector) => collector.events);
    this.drainedRequests += this.retired.reduce((sum, collector) => sum + collector.stats().requests, 0);
    this.retired.length = 0;
    if (this.current) {
      out.push(...this.current.events);
      this.drainedRequests += this.current.stats().requests;
      this.current.reset();
    }
    return out;
  }

  /** Every event answered 2xx, over every instance, duplicates included. */
  wire(): ReceivedEvent[] {
    const all = [...this.retired, ...(this.current ? [this.current] : [])];
    return all.flatMap((collector) => collector.events);
  }

  /** Requests received, over every instance. */
  requests(): number {
    const all = [...this.retired, ...(this.current ? [this.current] : [])];
    return all.reduce((sum, collector) => sum + collector.stats().requests, this.drainedRequests);
  }

  async close(): Promise<void> {
    await this.down();
  }
}

/** Runs `step` every `everyMs` until stopped; `step` gets the tick number. Used for flapping and bursts. */
export function every(everyMs: number, step: (tick: number) => void | Promise<void>): { stop: () => Promise<void> } {
  let tick = 0;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (stopped) return;
    running = Promise.resolve(step(tick++)).then(() => {
      if (!stopped) timer = setTimeout(loop, everyMs);
    });
  };
  timer = setTimeout(loop, everyMs);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** Samples the client's held events (queued + in flight) and the process RSS every few ms. */
export class Sampler {
  peakHeld = 0;
  peakRss = 0;
  samples = 0;
  /** Held counts above the bound, as seen; must stay empty. */
  readonly overBound: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: OdpClient,
    private readonly bound: number,
    everyMs = 5,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  sample(): void {
    const s = this.client.stats();
    const held = s.queued + s.inFlight;
    this.samples++;
    if (held > this.peakHeld) this.peakHeld = held;
    if (held > this.bound) this.overBound.push(held);
    const rss = process.memoryUsage.rss();
    if (rss > this.peakRss) this.peakRss = rss;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

/** Steady traffic: `count` events from `from`, `perTick` of them every `tickMs`. */
export async function sendPaced(ledger: Ledger, from: number, count: number, perTick: number, tickMs: number): Promise<void> {
  for (let sent = 0; sent < count; sent += perTick) {
    await ledger.sendMany(from + sent, Math.min(perTick, count - sent));
    await sleep(tickMs);
  }
}

/** The default client of a scenario: fast backoff so faults cost seconds, not minutes. */
export function chaosClient(host: CollectorHost, logger: CapturedLogger, odp: NonNullable<OdpClientConfig['odp']>): OdpClient {
  return createInstance({
    datafile: fixtureDatafile(host.url),
    logger,
    logLevel: 'info',
    closeTimeoutMs: 10_000,
    odp: { flushIntervalMs: 20, initialBackoffMs: 5, maxBackoffMs: 50, requestTimeoutMs: 2_000, ...odp },
  });
}

const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MB`;

/** One line per scenario for the CI log. */
export function summaryLine(name: string, ledger: Ledger, acc: Accounting, sampler: Sampler, ms: number, requests: number): string {
  const reasons = DROP_REASONS.filter((r) => acc.stats.droppedByReason[r] > 0)
    .map((r) => `${r}=${acc.stats.droppedByReason[r]}`)
    .join(',');
  const rejected = [...ledger.rejected].map(([code, n]) => `${code}=${n}`).join(',');
  return (
    `chaos ${name}: attempted=${ledger.attempted} accepted=${acc.stats.accepted} delivered=${acc.stats.delivered} ` +
    `dropped=${acc.stats.dropped}${reasons ? ` (${reasons})` : ''} rejected=${rejected || 0} ` +
    `duplicatesOnWire=${acc.duplicates} peakQueue=${sampler.peakHeld} peakRss=${mb(sampler.peakRss)} ` +
    `requests=${requests} retries=${acc.stats.retries} time=${(ms / 1000).toFixed(1)}s`
  );
}

export { captureLogger, sleep };
