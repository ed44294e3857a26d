import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test, type TestContext } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { backoffDelay, parseRetryAfter } from '../src/dispatcher/retry-policy';
import { createInstance } from '../src/index';
import type { OdpDataValue } from '../src/types';
import { checkAccounting, Ledger } from './support/accounting';
import { API_KEY, captureLogger, fixtureDatafile, until } from './support/helpers';

let collector: Collector;
const fast = { initialBackoffMs: 20, maxBackoffMs: 100, flushIntervalMs: 0, batchSize: 10 };

/** A client on this file's collector, closed when the test ends (pass or fail). */
function client(t: TestContext, odp: Record<string, unknown> = {}) {
  const logger = captureLogger();
  const instance = createInstance({ datafile: fixtureDatafile(collector.url), logger, logLevel: 'debug', odp: { ...fast, ...odp } });
  t.after(() => instance.close({ timeoutMs: 0 }));
  const ledger = new Ledger(instance);
  return { instance, logger, ledger, dropped: ledger.dropped };
}

function send(ledger: Ledger, n: number, data: (i: number) => Record<string, OdpDataValue> = () => ({})) {
  for (let i = 0; i < n; i++) assert.equal(ledger.send(i, { data: data(i) }), null);
}

/** The idempotence ids in each request body, in order. */
function idsPerRequest(): string[][] {
  return collector.batches.map((batch) => (JSON.parse(batch.body) as Array<{ data: { idempotence_id: string } }>).map((e) => e.data.idempotence_id));
}

describe('retry policy', { timeout: 60_000 }, () => {
  // A collector per test: a late answer to an earlier test's slow request cannot land in this one.
  beforeEach(async () => {
    collector = await startCollector({ apiKey: API_KEY });
  });
  afterEach(() => collector?.close());

  test('500: the same batch (same ids, same body) is retried with backoff until delivered', async (t) => {
    collector.setFaults({ status: 500 });
    const { instance, ledger, logger } = client(t);
    send(ledger, 3);
    await until(() => collector.stats().requests >= 3, 3000, 'three failed attempts');
    collector.setFaults({});
    await instance.flush();
    const bodies = collector.batches.map((b) => b.body);
    assert.ok(bodies.length >= 4);
    assert.ok(bodies.every((body) => body === bodies[0]), 'every attempt sent the identical body');
    assert.equal(collector.stats().distinctIds, 3);
    assert.equal(collector.events.length, 3, 'delivered once');
    const stats = instance.stats();
    assert.equal(stats.delivered, 3);
    assert.ok(stats.retries >= 3);
    await instance.close();
    checkAccounting(ledger, collector.events, logger);
  });

  test('429 with Retry-After: the next attempt waits at least that long', async (t) => {
    collector.setFaults({ status: 429, retryAfter: '1' });
    const { instance, ledger, logger } = client(t);
    const start = Date.now();
    send(ledger, 2);
    await until(() => collector.stats().requests >= 1, 2000, 'first attempt');
    collector.setFaults({});
    await instance.flush();
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 950, `retried after ${elapsed} ms, before Retry-After`);
    assert.equal(collector.batches.length, 2);
    assert.deepEqual(idsPerRequest()[0], idsPerRequest()[1]);
    await instance.close();
  });

  test('Retry-After parsing: seconds and HTTP dates; backoff doubles with jitter up to the cap', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('0.5'), 500);
    assert.equal(parseRetryAfter(new Date(10_000 + 5000).toUTCString(), 10_000), 5000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.deepEqual([1, 2, 3, 4, 10].map((n) => backoffDelay(n, 200, 1000, () => 1)), [200, 400, 800, 1000, 1000]);
    assert.deepEqual([1, 2, 3].map((n) => backoffDelay(n, 200, 1000, () => 0)), [100, 200, 400]);
  });

  test('400: not retryable; dropped once, logged once at error level, counted and reported', async (t) => {
    collector.setFaults({ status: 400 });
    const { instance, ledger, logger, dropped } = client(t);
    send(ledger, 4);
    await instance.flush();
    assert.equal(collector.stats().requests, 1, 'no retry');
    assert.deepEqual(dropped.map((d) => [d.reason, d.count, d.status]), [['rejectedByServer', 4, 400]]);
    assert.equal(instance.stats().droppedByReason.rejectedByServer, 4);
    assert.equal(logger.lines.filter((l) => l.level === 'error' && /answered 400/.test(l.message)).length, 1);
    await instance.close();
    checkAccounting(ledger, collector.events, logger);
  });

  test('401/403/404 are dropped too; 408 and 425 are retried', async (t) => {
    for (const status of [401, 403, 404]) {
      collector.reset();
      collector.setFaults({ status });
      const { instance, ledger, logger } = client(t);
      send(ledger, 1);
      await instance.flush();
      assert.equal(collector.stats().requests, 1, `${status} is not retried`);
      assert.equal(instance.stats().droppedByReason.rejectedByServer, 1);
      await instance.close();
      checkAccounting(ledger, collector.events, logger);
    }
    for (const status of [408, 425]) {
      collector.reset();
      collector.setFaults({ status });
      const { instance, ledger, logger } = client(t);
      send(ledger, 1);
      await until(() => collector.stats().requests >= 2, 3000, `a retry after ${status}`);
      collector.setFaults({});
      await instance.flush();
      assert.equal(instance.stats().delivered, 1);
      await instance.close();
      checkAccounting(ledger, collector.events, logger);
    }
  });

  test('413: the batch is split in halves until it fits; a single event still too large is dropped as tooLarge', async (t) => {
    const { instance, ledger, logger, dropped } = client(t, { batchSize: 8, flushIntervalMs: 60_000, maxConcurrentRequests: 1 });
    for (let i = 0; i < 8; i++) {
      const data = i === 5 ? { pad: 'x'.repeat(3000) } : { pad: 'y'.repeat(200) };
      assert.equal(ledger.send(i, { action: 'a', identifiers: { fs_user_id: `u${i}` }, data }), null);
    }
    collector.setFaults({ maxBodyBytes: 2600 });
    await instance.flush();
    // [u0..u7] 413 → [u0..u3] 202, [u4..u7] 413 → [u4,u5] 413 → [u4] 202, [u5] 413 (dropped) → [u6,u7] 202
    assert.deepEqual(collector.batches.map((batch) => batch.status), [413, 202, 413, 413, 202, 413, 202]);
    assert.equal(collector.events.length, 7, 'all but the oversized event arrive');
    assert.ok(!collector.events.some((e) => typeof e.data.pad === 'string' && e.data.pad.length === 3000));
    assert.deepEqual(dropped.map((d) => [d.reason, d.count, d.status]), [['tooLarge', 1, 413]]);
    assert.equal(collector.stats().distinctIds, 7);
    const order = collector.events.map((e) => e.identifiers.fs_user_id);
    assert.deepEqual(order, ['u0', 'u1', 'u2', 'u3', 'u4', 'u6', 'u7'], 'split halves keep the order');
    await instance.close();
    checkAccounting(ledger, collector.events, logger);
  });

  test('connection reset: retried with the same ids, delivered once', async (t) => {
    collector.setFaults({ resetRate: 1 });
    const { instance, ledger, logger } = client(t);
    send(ledger, 5);
    await until(() => collector.stats().requests >= 2, 3000, 'two reset attempts');
    collector.setFaults({});
    await instance.flush();
    assert.equal(collector.events.length, 5);
    const ids = idsPerRequest();
    assert.ok(ids.every((list) => JSON.stringify(list) === JSON.stringify(ids[0])), 'the ids never change across retries');
    await instance.close();
    checkAccounting(ledger, collector.events, logger);
  });

  test('timeout: a server slower than requestTimeoutMs is retried; the late answer does not double count', async (t) => {
    collector.setFaults({ latencyMs: 400 });
    const { instance, ledger, logger } = client(t, { requestTimeoutMs: 100 });
    send(ledger, 2);
    await until(() => collector.stats().requests >= 2, 3000, 'a timed-out attempt and its retry');
    collector.setFaults({});
    await instance.flush();
    const stats = instance.stats();
    assert.equal(stats.delivered, 2);
    assert.ok(stats.retries >= 1);
    // The server may have recorded the slow attempts too: duplicates on the wire share ids.
    assert.equal(collector.stats().distinctIds, 2);
    await instance.close();
    checkAccounting(ledger, collector.events, logger);
  });

  test('a hanging server: the request timeout really fires', async (t) => {
    collector.setFaults({ hang: true });
    const { instance, ledger, logger } = client(t, { requestTimeoutMs: 150, maxRetries: 1 });
    send(ledger, 1);
    await instance.flush();
    const stats = instance.stats();
    assert.equal(stats.droppedByReason.retriesExhausted, 1);
    assert.equal(stats.requests, 2);
    await instance.close();
    checkAccounting(ledger, collector.events, logger);
  });

  test('retries are bounded by maxRetries, then dropped as retriesExhausted and reported', async (t) => {
    collector.setFaults({ status: 503 });
    const { instance, ledger, logger, dropped } = client(t, { maxRetries: 2 });
    send(ledger, 3);
    await instance.flush();
    assert.equal(collector.stats().requests, 3, 'one attempt and two retries');
    assert.deepEqual(dropped.map((d) => [d.reason, d.count, d.status]), [['retriesExhausted', 3, 503]]);
    await instance.close();
    checkAccounting(ledger, collector.events, logger);
  });

  test('a failing server gets at most one request per slot per backoff, not a storm', async (t) => {
    collector.setFaults({ status: 503 });
    // Two request slots (the default), backoff 100 ms with jitter: each wait is 50..100 ms, so
    // ATTEMPTS requests take at least (ATTEMPTS / 2 - 1) waits of 50 ms. A lower bound: a slow
    // machine only stretches it; a storm (no wait) sends them all within a few ms.
    const ATTEMPTS = 12;
    const { instance, ledger, logger } = client(t, { initialBackoffMs: 100, maxBackoffMs: 100, batchSize: 1 });
    send(ledger, 20);
    await until(() => collector.batches.length >= 1, 5000, 'the first attempt');
    const first = Date.now();
    await until(() => collector.batches.length >= ATTEMPTS, 10_000, `${ATTEMPTS} attempts`);
    const elapsed = Date.now() - first;
    assert.ok(elapsed >= (ATTEMPTS / 2 - 1) * 50, `${ATTEMPTS} attempts within ${elapsed} ms with a 100 ms backoff`);
    collector.setFaults({});
    await instance.flush();
    assert.equal(collector.stats().distinctIds, 20);
    await instance.close();
    checkAccounting(ledger, collector.events, logger);
  });

  test('close() past its deadline drops what is left as closed, and says so', async (t) => {
    collector.setFaults({ status: 503 });
    const { instance, ledger, logger, dropped } = client(t, { initialBackoffMs: 50, maxBackoffMs: 50 });
    send(ledger, 4);
    await instance.close({ timeoutMs: 300 });
    assert.deepEqual(dropped.map((d) => [d.reason, d.count]), [['closed', 4]]);
    const stats = instance.stats();
    assert.equal(stats.droppedByReason.closed, 4);
    checkAccounting(ledger, collector.events, logger);
  });
});
