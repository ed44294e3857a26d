// Soak (not in CI; `npm run test:soak`): SOAK_MINUTES (default 10) of steady traffic while the
// collector flaps (2 s up, 1 s of: stopped / 503 / resets / hanging / 50% 502). Reports RSS and
// heap over time and the handles left open at the end; checks the chaos accounting at the end,
// that the held count never exceeds queueSize, and that the heap after a full GC does not grow
// between the first and the last quarter of the run by more than HEAP_GROWTH_BOUND.
// Rate: SOAK_RATE events per second (default 200).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CollectorFaults } from '../../collector/src/collector';
import { checkAccounting, Ledger, WireAudit } from '../support/accounting';
import { captureLogger, chaosClient, CollectorHost, envInt, every, Sampler, sleep, summaryLine } from '../support/chaos';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const RATE = envInt('SOAK_RATE', 200);
const DURATION_MS = Math.round(MINUTES * 60_000);
const QUEUE_SIZE = 5_000;
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
/**
 * The SDK holds at most queueSize events, so its heap must not grow with time (the test keeps its
 * own per-event records outside the JS heap). At the default 200 events/s for 10 minutes, ~60,000
 * events pass between the quarters: a leak of ~70 bytes per event shows above this.
 */
const HEAP_GROWTH_BOUND = 4 * 1048576;

/** A full garbage collection, without starting Node with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Median of heapUsed after GC over the samples taken within [from, to) ms of the run. */
function medianHeap(samples: Array<{ at: number; heap: number }>, from: number, to: number): number {
  const heaps = samples.filter((sample) => sample.at >= from && sample.at < to).map((sample) => sample.heap).sort((a, b) => a - b);
  assert.ok(heaps.length > 0, `a heap sample between ${from} and ${to} ms`);
  return heaps[Math.floor(heaps.length / 2)]!;
}

test(`soak: ${MINUTES} min at ${RATE} events/s against a flapping collector`, { timeout: DURATION_MS + 120_000 }, async (t) => {
  assert.ok(Number.isFinite(MINUTES) && MINUTES > 0, 'SOAK_MINUTES must be a positive number');
  const started = Date.now();
  const host = await CollectorHost.start();
  const logger = captureLogger();
  const client = chaosClient(host, logger, { queueSize: QUEUE_SIZE, requestTimeoutMs: 300, maxRetries: 200, maxBackoffMs: 100 });
  const ledger = new Ledger(client);
  const audit = new WireAudit(ledger.accepted);
  const sampler = new Sampler(client, QUEUE_SIZE, 20);
  const faulty: Array<CollectorFaults | 'down'> = ['down', { status: 503 }, { resetRate: 1 }, { hang: true }, { failRate: 0.5, failStatus: 502 }];
  const rssLog: string[] = [];
  const sampleEveryMs = Math.min(30_000, Math.max(1_000, Math.floor(DURATION_MS / 16)));
  const heapSamples: Array<{ at: number; heap: number }> = [];

  // 1 s ticks: 2 up, then 1 faulty (cycling through the kinds).
  const flap = every(1_000, async (tick) => {
    const phase = tick % 3;
    if (phase === 2) {
      const fault = faulty[Math.floor(tick / 3) % faulty.length]!;
      if (fault === 'down') await host.down();
      else host.setFaults(fault);
    } else if (phase === 0) {
      await host.restart();
      host.setFaults({});
    }
  });
  const report = every(sampleEveryMs, () => {
    audit.add(host.drain()); // keeps the collector's own memory flat, so RSS shows the SDK's
    collectGarbage();
    const heap = process.memoryUsage().heapUsed;
    heapSamples.push({ at: Date.now() - started, heap });
    const s = client.stats();
    const line =
      `soak t=${((Date.now() - started) / 1000).toFixed(0)}s rss=${mb(process.memoryUsage.rss())} heapUsedAfterGc=${mb(heap)} ` +
      `accepted=${s.accepted} delivered=${s.delivered} dropped=${s.dropped} held=${s.queued + s.inFlight} requests=${s.requests} retries=${s.retries}`;
    rssLog.push(line);
    t.diagnostic(line);
  });

  try {
    const perTick = Math.max(1, Math.round(RATE / 10));
    let seq = 0;
    while (Date.now() - started < DURATION_MS) {
      await ledger.sendMany(seq, perTick);
      seq += perTick;
      await sleep(100);
    }
    await report.stop();
    await flap.stop();
    await host.restart();
    host.setFaults({});
    await client.flush();
    await client.close();
  } finally {
    await report.stop();
    await flap.stop();
    await client.close({ timeoutMs: 0 });
    sampler.stop();
    audit.add(host.drain());
    await host.close();
  }

  assert.deepEqual(sampler.overBound, [], `held events never exceeded queueSize ${QUEUE_SIZE}`);
  const acc = checkAccounting(ledger, audit, logger);
  assert.ok(acc.stats.retries > 0, 'the flapping was felt');

  const firstQuarter = medianHeap(heapSamples, 0, DURATION_MS / 4);
  const lastQuarter = medianHeap(heapSamples, (DURATION_MS * 3) / 4, DURATION_MS);
  const heapLine = `soak heap after GC: first quarter ${mb(firstQuarter)}, last quarter ${mb(lastQuarter)} (bound: +${mb(HEAP_GROWTH_BOUND)})`;
  t.diagnostic(heapLine);
  assert.ok(lastQuarter - firstQuarter <= HEAP_GROWTH_BOUND, heapLine);

  // Handles: with the client and the collector closed, no socket, server or SDK timer is left.
  await sleep(50);
  const handles = process.getActiveResourcesInfo();
  const summary = summaryLine(`soak${MINUTES}min`, ledger, acc, sampler, Date.now() - started, host.requests());
  const handleLine = `soak open handles at the end: ${JSON.stringify(handles)}`;
  t.diagnostic(summary);
  t.diagnostic(handleLine);
  const sockets = handles.filter((name) => /TCP|UDP|HTTP|Server/i.test(name));
  assert.deepEqual(sockets, [], 'no socket or server is left open');
  // The runner's own test timeout is the only timer allowed to remain.
  assert.ok(handles.filter((name) => name === 'Timeout').length <= 1, `timers left: ${handleLine}`);
});
