// Chaos: the real collector's fault modes against CHAOS_EVENTS (default 10,000) events per scenario,
// over real HTTP on 127.0.0.1. After close(), every scenario must account for every accepted event
// (see checkAccounting) and keep the held count within queueSize.
//
// Settings that keep the whole suite within a few minutes on 2 cores (all overridable by env):
//   CHAOS_EVENTS=10000      events per scenario
//   CHAOS_OUTAGE_MS=3000    length of the full outage (server really stopped: connections refused)
//   CHAOS_BURSTS=3          bursts of 429 (Retry-After: 1) in the 429 scenario
// Traffic: all at once (500s, 429s, resets), or steady (slow responses, outage, flapping).
// Client: batchSize 10, flushIntervalMs 20, initialBackoffMs 5, maxBackoffMs 50, requestTimeoutMs 2000
// (100 in the slow-response scenario, 300 in the flapping one), closeTimeoutMs 10,000.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { OdpClientConfig } from '../../src/types';
import { captureLogger, chaosClient, CollectorHost, envInt, every, Sampler, sendPaced, sleep, summaryLine } from '../support/chaos';
import { checkAccounting, Ledger } from '../support/accounting';
import type { CollectorFaults } from '../../collector/src/collector';

const EVENTS = envInt('CHAOS_EVENTS', 10_000);
const OUTAGE_MS = envInt('CHAOS_OUTAGE_MS', 3_000);
const BURSTS = envInt('CHAOS_BURSTS', 3);
/** Per scenario; the file as a whole gets FILE_LIMIT (scripts/test.mjs kills it later still). */
const LIMIT = { timeout: 150_000 };
const FILE_LIMIT = { timeout: 15 * 60_000 };

interface Scenario {
  host: CollectorHost;
  ledger: Ledger;
  sampler: Sampler;
  logger: ReturnType<typeof captureLogger>;
}

/**
 * Starts a collector and a client, runs `drive`, closes the client, checks the accounting and
 * prints the summary line. Everything started here is stopped here, pass or fail.
 */
async function scenario(
  t: TestContext,
  name: string,
  options: { faults?: CollectorFaults; odp?: NonNullable<OdpClientConfig['odp']>; collectorLog?: (line: string) => void },
  drive: (s: Scenario) => Promise<void>,
): Promise<Scenario> {
  const started = Date.now();
  const host = await CollectorHost.start(options.faults ?? {}, options.collectorLog);
  const logger = captureLogger();
  const odp = { queueSize: 10_000, ...options.odp };
  let s: Scenario | undefined;
  // From here on a failure (even in making the client) must still stop the collector: a server
  // left listening kept this file alive for ten minutes once.
  try {
    const client = chaosClient(host, logger, odp);
    s = { host, ledger: new Ledger(client), sampler: new Sampler(client, odp.queueSize), logger };
    await drive(s);
    await client.close();
  } finally {
    await s?.ledger.client.close({ timeoutMs: 0 });
    s?.sampler.stop();
    await host.close();
  }
  const { ledger, sampler } = s;
  assert.deepEqual(sampler.overBound, [], `held events (queued + in flight) never exceeded queueSize ${odp.queueSize}`);
  const acc = checkAccounting(ledger, host.wire(), logger);
  assert.ok(!logger.text().includes('W4WzcEs-ABgXorzY7h1LCQ'), 'the API key is in no log line');
  const line = summaryLine(name, ledger, acc, sampler, Date.now() - started, host.requests());
  t.diagnostic(line);
  return s;
}

describe(`chaos: ${EVENTS} events per scenario`, FILE_LIMIT, () => {
  test('30% of requests answered 500', LIMIT, async (t) => {
    const { ledger } = await scenario(t, '500x30%', { faults: { failRate: 0.3, failStatus: 500 } }, async ({ ledger }) => {
      await ledger.sendMany(0, EVENTS);
      await ledger.client.flush();
    });
    const stats = ledger.client.stats();
    assert.equal(ledger.accepted.size, EVENTS, 'the queue bound was never hit');
    assert.ok(stats.retries > 0, 'the 500s were retried');
  });

  test('bursts of 429 with Retry-After: 1 are honoured', LIMIT, async (t) => {
    // One request in flight at a time, so the gap after a 429 is the client's own wait.
    const activity: Array<{ at: number; line: string }> = [];
    const log = (line: string) => activity.push({ at: Date.now(), line });
    const { ledger } = await scenario(t, '429-bursts', { collectorLog: log, odp: { maxConcurrentRequests: 1 } }, async ({ host, ledger }) => {
      // Paced over the bursts (~4.5 s): merged requests deliver a burst sent at once before the first 429.
      const sending = sendPaced(ledger, 0, EVENTS, Math.ceil(EVENTS / 100), 45);
      for (let burst = 0; burst < BURSTS; burst++) {
        await sleep(300);
        host.setFaults({ status: 429, retryAfter: '1' });
        await sleep(1_200);
        host.setFaults({});
      }
      await sending;
      await ledger.client.flush();
    });
    const answers429 = activity.filter((a) => a.line.includes('-> 429'));
    assert.ok(answers429.length >= BURSTS, `each burst answered 429 at least once (${answers429.length})`);
    for (const answer of answers429) {
      const next = activity.find((a) => a.at > answer.at);
      // A lower bound only: a retry never comes earlier than Retry-After.
      if (next) assert.ok(next.at - answer.at >= 990, `the next request came ${next.at - answer.at} ms after a 429 with Retry-After: 1`);
    }
    assert.equal(ledger.accepted.size, EVENTS);
  });

  test('connection resets (25% of requests)', LIMIT, async (t) => {
    const { ledger } = await scenario(t, 'resets25%', { faults: { resetRate: 0.25 } }, async ({ ledger }) => {
      await ledger.sendMany(0, EVENTS);
      await ledger.client.flush();
    });
    assert.ok(ledger.client.stats().retries > 0, 'the resets were retried');
  });

  test('responses slower than the request timeout (the server keeps what it got: duplicates on the wire)', LIMIT, async (t) => {
    // Slow and fast phases alternate; a timed-out request the server still accepted is sent again with
    // the same idempotence_ids. maxRetries is high so a timed-out (maybe delivered) batch is never given up.
    const { host } = await scenario(
      t,
      'slow>timeout',
      { odp: { requestTimeoutMs: 100, maxRetries: 100 } },
      async ({ host, ledger }) => {
        const flap = every(300, (tick) => host.setFaults(tick % 2 === 0 ? { latencyMs: 250 } : {}));
        try {
          await sendPaced(ledger, 0, EVENTS, 100, 40);
          await ledger.client.flush();
        } finally {
          await flap.stop();
        }
      },
    );
    assert.ok(host.wire().length > new Set(host.wire().map((e) => e.data.idempotence_id)).size, 'timed-out requests produced duplicates on the wire');
  });

  test(`a full outage of ${OUTAGE_MS} ms (server stopped), then recovery; held events stay within queueSize`, LIMIT, async (t) => {
    const queueSize = 2_000;
    const s = await scenario(t, `outage${OUTAGE_MS}ms`, { odp: { queueSize } }, async ({ host, ledger }) => {
      // Steady traffic before, during and after the outage: 100 events every 20 ms at most.
      const perTick = 100;
      const ticks = Math.ceil(EVENTS / perTick);
      const outageStart = Math.floor(ticks / 5);
      let sent = 0;
      let outageEnds = 0;
      for (let tick = 0; tick < ticks; tick++) {
        if (tick === outageStart) {
          await host.down();
          outageEnds = Date.now() + OUTAGE_MS;
        }
        if (!host.up && Date.now() >= outageEnds) await host.restart();
        const n = Math.min(perTick, EVENTS - sent);
        await ledger.sendMany(sent, n);
        sent += n;
        // Spread the traffic so that part of it falls in the outage.
        await sleep(host.up ? 20 : Math.max(20, OUTAGE_MS / (ticks * 0.6)));
      }
      if (!host.up) {
        await sleep(Math.max(0, outageEnds - Date.now()));
        await host.restart();
      }
      await ledger.client.flush();
    });
    const stats = s.ledger.client.stats();
    assert.ok((stats.rejected.queueFull ?? 0) > 0, 'the outage filled the queue, so the bound was exercised');
    assert.ok(s.sampler.peakHeld <= queueSize);
  });

  test('a flapping server: up, then down / 503 / resets / hanging, every 300 ms', LIMIT, async (t) => {
    const faulty: Array<CollectorFaults | 'down'> = ['down', { status: 503 }, { resetRate: 1 }, { hang: true }, { failRate: 0.5, failStatus: 502 }];
    const { ledger } = await scenario(t, 'flapping', { odp: { requestTimeoutMs: 300, maxRetries: 100 } }, async ({ host, ledger }) => {
      const flap = every(300, async (tick) => {
        if (tick % 2 === 1) {
          await host.restart();
          host.setFaults({});
          return;
        }
        const fault = faulty[(tick / 2) % faulty.length];
        if (fault === 'down') await host.down();
        else host.setFaults(fault);
      });
      try {
        // Steady traffic across the flapping: 50 events every 30 ms.
        await sendPaced(ledger, 0, EVENTS, 50, 30);
        await ledger.client.flush();
      } finally {
        await flap.stop();
      }
    });
    assert.ok(ledger.client.stats().retries > 0, 'the faults were retried');
  });

  test('close() during an outage: what cannot be delivered by the deadline is dropped as closed, never lost silently', LIMIT, async (t) => {
    const { ledger } = await scenario(t, 'close-in-outage', { odp: { maxRetries: 1_000 } }, async ({ host, ledger }) => {
      await ledger.sendMany(0, Math.floor(EVENTS / 2));
      await host.down();
      await ledger.sendMany(Math.floor(EVENTS / 2), EVENTS - Math.floor(EVENTS / 2));
      await ledger.client.close({ timeoutMs: 500 });
    });
    const stats = ledger.client.stats();
    assert.ok(stats.droppedByReason.closed > 0, 'undelivered events were dropped as closed');
  });
});
