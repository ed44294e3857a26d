// Shared by the chaos and soak suites: a workload that knows what it sent, fault drivers that steer
// the real collector, samplers for held events and RSS, and the accounting every scenario must pass.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startCollector, type Collector, type CollectorFaults, type ReceivedEvent } from '../../collector/src/collector';
import { createInstance, type OdpClient } from '../../src/index';
import type { DropReason, OdpClientConfig, OdpClientEvents, OdpStats } from '../../src/types';
import { captureLogger, fixtureDatafile, type CapturedLogger } from './helpers';

export const DROP_REASONS: DropReason[] = ['retriesExhausted', 'rejectedByServer', 'tooLarge', 'closed'];

/** An integer from the environment (e.g. CHAOS_EVENTS), or the fallback. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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

/** What the test itself saw: every call it made and every listener payload. */
export class Ledger {
  attempted = 0;
  /** seq → true when sendOdpEvent returned null. */
  readonly accepted = new Set<number>();
  readonly rejected = new Map<string, number>();
  readonly dropped: Array<OdpClientEvents['dropped']> = [];
  deliveredByListener = 0;

  constructor(readonly client: OdpClient) {
    client.on('dropped', (payload) => this.dropped.push(payload));
    client.on('delivered', (payload) => {
      this.deliveredByListener += payload.count;
    });
  }

  /** Sends event number `seq`; its identifiers and data carry `seq` so the wire can be matched back. */
  send(seq: number): void {
    this.attempted++;
    const result = this.client.sendOdpEvent({
      action: 'chaos',
      identifiers: { fs_user_id: `u${seq}`, email: `u${seq}@example.com` },
      data: { seq, item: 'shirt', price: 50 },
    });
    if (result === null) this.accepted.add(seq);
    else this.rejected.set(result.code, (this.rejected.get(result.code) ?? 0) + 1);
  }

  /** Steady traffic: `count` events from `from`, `perTick` of them every `tickMs`. */
  async sendPaced(from: number, count: number, perTick: number, tickMs: number): Promise<void> {
    for (let sent = 0; sent < count; sent += perTick) {
      await this.sendMany(from + sent, Math.min(perTick, count - sent));
      await sleep(tickMs);
    }
  }

  /** Sends `count` events starting at `from`, yielding to I/O every `chunk` events. */
  async sendMany(from: number, count: number, chunk = 100): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.send(from + i);
      if ((i + 1) % chunk === 0) await new Promise((resolve) => setImmediate(resolve));
    }
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

export interface Accounting {
  stats: OdpStats;
  wireEvents: number;
  distinctIds: number;
  duplicates: number;
}

/**
 * What reached the collector, kept compactly: per idempotence_id the event's seq and a digest of
 * its JSON. Duplicates are checked as they are added: same id → same seq, same bytes.
 */
export class WireAudit {
  events = 0;
  duplicates = 0;
  private readonly byId = new Map<string, { seq: number; digest: string }>();
  private readonly seqs = new Set<number>();

  constructor(private readonly accepted: Set<number>) {}

  add(events: ReceivedEvent[]): void {
    for (const event of events) {
      this.events++;
      const id = event.data.idempotence_id;
      const seq = event.data.seq;
      assert.equal(typeof id, 'string', 'every event on the wire has an idempotence_id');
      assert.equal(typeof seq, 'number', 'every event on the wire carries the seq it was sent with');
      assert.ok(this.accepted.has(seq as number), `seq ${String(seq)} on the wire was accepted by the client`);
      const digest = createHash('sha1').update(JSON.stringify(event)).digest('base64');
      const first = this.byId.get(id as string);
      if (first === undefined) {
        assert.ok(!this.seqs.has(seq as number), `seq ${String(seq)} went out under two idempotence_ids`);
        this.byId.set(id as string, { seq: seq as number, digest });
        this.seqs.add(seq as number);
      } else {
        this.duplicates++;
        assert.equal(digest, first.digest, `a duplicate of ${String(id)} on the wire is a copy of the delivered event`);
      }
    }
  }

  get distinctIds(): number {
    return this.byId.size;
  }
}

/**
 * The promise of the SDK, checked after `close()`:
 * accepted == delivered + dropped; the wire's distinct idempotence_ids == delivered; every
 * duplicate on the wire is an exact copy of a delivered event (same id, same event);
 * every drop has a reason, a `dropped` listener payload and an error log line.
 */
export function checkAccounting(ledger: Ledger, wire: ReceivedEvent[] | WireAudit, logger: CapturedLogger): Accounting {
  const stats = ledger.client.stats();
  assert.equal(stats.queued, 0, 'nothing is queued after close()');
  assert.equal(stats.inFlight, 0, 'nothing is in flight after close()');
  assert.equal(stats.accepted, ledger.accepted.size, 'stats().accepted counts exactly the calls that returned null');
  assert.equal(stats.accepted, stats.delivered + stats.dropped, 'accepted == delivered + dropped');
  assert.equal(ledger.deliveredByListener, stats.delivered, '`delivered` listener counts add up to stats().delivered');

  let audit: WireAudit;
  if (wire instanceof WireAudit) audit = wire;
  else {
    audit = new WireAudit(ledger.accepted);
    audit.add(wire);
  }
  assert.equal(audit.distinctIds, stats.delivered, "the collector's distinct idempotence_id count equals delivered");
  assert.equal(ledger.accepted.size - audit.distinctIds, stats.dropped, 'accepted events missing from the wire are exactly the dropped ones');

  // Drops: every one explained.
  const byReason: Record<string, number> = {};
  for (const drop of ledger.dropped) {
    assert.ok(DROP_REASONS.includes(drop.reason), `documented drop reason: ${drop.reason}`);
    assert.ok(drop.count > 0 && drop.message.length > 0, 'a drop carries a count and a message');
    byReason[drop.reason] = (byReason[drop.reason] ?? 0) + drop.count;
    assert.ok(
      logger.lines.some((line) => line.level === 'error' && line.message.includes(drop.message)),
      `the drop "${drop.message}" was logged at error level`,
    );
  }
  for (const reason of DROP_REASONS) {
    assert.equal(byReason[reason] ?? 0, stats.droppedByReason[reason], `dropped listener counts for ${reason} match stats()`);
  }
  return { stats, wireEvents: audit.events, distinctIds: audit.distinctIds, duplicates: audit.duplicates };
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

export { captureLogger };
