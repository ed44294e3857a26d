// The SDK's accounting promise, checked against what was observed outside its counters: the calls
// the test made (Ledger), what the collector received on the wire (WireAudit) and the `dropped`
// payloads. StatsTracker's own sum (accepted == delivered + dropped + queued + inFlight) holds by
// construction, so it is never the evidence here.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ReceivedEvent } from '../../collector/src/collector';
import type { OdpClient } from '../../src/index';
import type { DropReason, OdpClientEvents, OdpDataValue, OdpStats } from '../../src/types';
import type { CapturedLogger } from './helpers';

export const DROP_REASONS: DropReason[] = ['retriesExhausted', 'rejectedByServer', 'tooLarge', 'closed', 'optedOut', 'waitUntilTimeout'];

/** A set of small non-negative integers, one byte each outside the JS heap (a soak sends millions). */
export class SeqSet {
  size = 0;
  private bytes = new Uint8Array(1024);

  add(seq: number): void {
    if (seq >= this.bytes.length) this.bytes = grown(this.bytes, seq);
    if (this.bytes[seq] === 0) this.size++;
    this.bytes[seq] = 1;
  }

  has(seq: number): boolean {
    return this.bytes[seq] === 1;
  }
}

/** A copy of `array` with room for index `index` (sizes double, so growing is amortised). */
function grown<T extends Uint8Array | Float64Array>(array: T, index: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(2 ** Math.ceil(Math.log2(index + 1)));
  bigger.set(array);
  return bigger;
}

/** What the test itself saw: every call it made and every listener payload. */
export class Ledger {
  attempted = 0;
  /** The seq of every event sendOdpEvent accepted (returned null for). */
  readonly accepted = new SeqSet();
  readonly rejected = new Map<string, number>();
  readonly dropped: Array<OdpClientEvents['dropped']> = [];
  deliveredByListener = 0;

  constructor(readonly client: OdpClient) {
    client.on('dropped', (payload) => this.dropped.push(payload));
    client.on('delivered', (payload) => {
      this.deliveredByListener += payload.count;
    });
  }

  /**
   * Sends event number `seq` (by default action 'chaos' for user `u{seq}`, buying a shirt); its data
   * also carries `seq`, so the wire can be matched back. Returns the refusal, or null when accepted.
   */
  send(seq: number, event: { action?: string; identifiers?: Record<string, string>; data?: Record<string, OdpDataValue> } = {}): ReturnType<OdpClient['sendOdpEvent']> {
    this.attempted++;
    const result = this.client.sendOdpEvent({
      action: 'chaos',
      identifiers: { fs_user_id: `u${seq}`, email: `u${seq}@example.com` },
      ...event,
      data: { ...(event.data ?? { item: 'shirt', price: 50 }), seq },
    });
    if (result === null) this.accepted.add(seq);
    else this.rejected.set(result.code, (this.rejected.get(result.code) ?? 0) + 1);
    return result;
  }

  /** Sends `count` events starting at `from`, yielding to I/O every `chunk` events. */
  async sendMany(from: number, count: number, chunk = 100): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.send(from + i);
      if ((i + 1) % chunk === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Events reported by `dropped` payloads, in all. */
  get droppedByListener(): number {
    return this.dropped.reduce((sum, drop) => sum + drop.count, 0);
  }
}

/** A 48-bit digest of `text` as a number (never 0), so audits keep numbers, not strings. */
function digest48(text: string): number {
  return createHash('sha1').update(text).digest().readUIntBE(0, 6) + 1;
}

/**
 * What reached the collector, kept compactly so that a long soak can bound the heap: per seq, the
 * digests of its idempotence_id and of the event's JSON, in typed arrays (outside the JS heap).
 * Duplicates are checked as they are added (same seq → same id, same bytes); ids shared by two
 * different events are found by `assertUniqueIds`.
 */
export class WireAudit {
  events = 0;
  duplicates = 0;
  distinctIds = 0;
  private idBySeq = new Float64Array(1024);
  private eventBySeq = new Float64Array(1024);

  constructor(private readonly accepted: SeqSet) {}

  add(events: ReceivedEvent[]): void {
    for (const event of events) {
      this.events++;
      const id = event.data.idempotence_id;
      const seq = event.data.seq;
      assert.equal(typeof id, 'string', 'every event on the wire has an idempotence_id');
      assert.ok(typeof seq === 'number' && Number.isInteger(seq) && seq >= 0, 'every event on the wire carries the seq it was sent with');
      assert.ok(this.accepted.has(seq), `seq ${seq} on the wire was accepted by the client`);
      if (seq >= this.idBySeq.length) {
        this.idBySeq = grown(this.idBySeq, seq);
        this.eventBySeq = grown(this.eventBySeq, seq);
      }
      const idDigest = digest48(id as string);
      const eventDigest = digest48(JSON.stringify(event));
      const known = this.idBySeq[seq];
      if (known === 0) {
        this.idBySeq[seq] = idDigest;
        this.eventBySeq[seq] = eventDigest;
        this.distinctIds++;
      } else {
        assert.equal(known, idDigest, `seq ${seq} went out under two idempotence_ids`);
        this.duplicates++;
        assert.equal(eventDigest, this.eventBySeq[seq], `a duplicate of ${String(id)} on the wire is a copy of the delivered event`);
      }
    }
  }

  /** No idempotence_id went out for two different events (which would make distinctIds overcount). */
  assertUniqueIds(): void {
    const ids = this.idBySeq.filter((digest) => digest !== 0).sort();
    for (let i = 1; i < ids.length; i++) assert.notEqual(ids[i], ids[i - 1], 'an idempotence_id went out for two different events');
  }
}

export interface Accounting {
  stats: OdpStats;
  wireEvents: number;
  distinctIds: number;
  duplicates: number;
}

/**
 * The promise of the SDK, checked once it has settled (after close(), or a flush() with no retry
 * left): stats().accepted is exactly the calls that returned null; delivered is exactly the
 * distinct idempotence_ids the collector accepted (a duplicate on the wire is an exact copy);
 * dropped is exactly the accepted events missing from the wire, and the `dropped` payloads say so
 * by reason (each logged at error level when a logger is given).
 */
export function checkAccounting(ledger: Ledger, wire: ReceivedEvent[] | WireAudit, logger?: CapturedLogger): Accounting {
  const stats = ledger.client.stats();
  assert.equal(stats.queued, 0, 'nothing is queued once settled');
  assert.equal(stats.inFlight, 0, 'nothing is in flight once settled');
  assert.equal(stats.accepted, ledger.accepted.size, 'stats().accepted counts exactly the calls that returned null');

  let audit: WireAudit;
  if (wire instanceof WireAudit) audit = wire;
  else {
    audit = new WireAudit(ledger.accepted);
    audit.add(wire);
  }
  audit.assertUniqueIds();
  assert.equal(stats.delivered, audit.distinctIds, "stats().delivered equals the collector's distinct idempotence_ids");
  assert.equal(ledger.deliveredByListener, audit.distinctIds, '`delivered` payloads add up to the distinct ids on the wire');
  const missing = ledger.accepted.size - audit.distinctIds;
  assert.equal(stats.dropped, missing, 'stats().dropped equals the accepted events missing from the wire');
  assert.equal(ledger.droppedByListener, missing, '`dropped` payloads add up to the accepted events missing from the wire');

  // Drops: every one explained.
  const byReason: Record<string, number> = {};
  for (const drop of ledger.dropped) {
    assert.ok(DROP_REASONS.includes(drop.reason), `documented drop reason: ${drop.reason}`);
    assert.ok(drop.count > 0 && drop.message.length > 0, 'a drop carries a count and a message');
    byReason[drop.reason] = (byReason[drop.reason] ?? 0) + drop.count;
    if (logger) {
      assert.ok(
        logger.lines.some((line) => line.level === 'error' && line.message.includes(drop.message)),
        `the drop "${drop.message}" was logged at error level`,
      );
    }
  }
  for (const reason of DROP_REASONS) {
    assert.equal(stats.droppedByReason[reason], byReason[reason] ?? 0, `stats().droppedByReason.${reason} matches the dropped payloads`);
  }
  return { stats, wireEvents: audit.events, distinctIds: audit.distinctIds, duplicates: audit.duplicates };
}

/**
 * What must hold at any moment of a run, checked against the same outside evidence: accepted is the
 * calls that returned null; nothing is counted delivered before the collector holds it; dropped is
 * what `dropped` payloads reported; no counter goes negative.
 */
export function checkRunningAccounting(ledger: Ledger, distinctIdsOnWire: number): void {
  const stats = ledger.client.stats();
  assert.equal(stats.accepted, ledger.accepted.size, 'stats().accepted counts exactly the calls that returned null');
  assert.ok(stats.delivered <= distinctIdsOnWire, `delivered ${stats.delivered} > ${distinctIdsOnWire} distinct ids the collector holds`);
  assert.equal(stats.dropped, ledger.droppedByListener, 'stats().dropped matches the dropped payloads so far');
  assert.ok(stats.queued >= 0 && stats.inFlight >= 0, `queued ${stats.queued}, inFlight ${stats.inFlight}`);
}
