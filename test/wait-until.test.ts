import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { createInstance } from '../src/index';
import { API_KEY, captureLogger } from './support/helpers';

// The waitUntil option in-process (the runtime tests run it in workerd and edge-runtime): each
// batch's promise is handed over as the batch is cut, and settles only once the batch is done.

let collector: Collector;

before(async () => {
  collector = await startCollector({ apiKey: API_KEY });
});
after(() => collector.close());
beforeEach(() => {
  collector.reset();
  collector.setFaults({});
});

const datafile = () => ({ version: '4', integrations: [{ key: 'odp', host: collector.url, publicKey: API_KEY }] });

describe('waitUntil', { timeout: 20_000 }, () => {
  test('gets one promise per batch, before the task ends, that settles once the batch is delivered', async () => {
    const handed: Array<{ promise: Promise<unknown>; arrivedAtSettle?: number }> = [];
    const client = createInstance({
      datafile: datafile(),
      // A long interval: with waitUntil it must not hold the partial batch back.
      odp: { batchSize: 10, flushIntervalMs: 60_000 },
      waitUntil: (promise) => {
        const entry: (typeof handed)[number] = { promise };
        handed.push(entry);
        void promise.then(() => (entry.arrivedAtSettle = collector.events.length));
      },
    });
    collector.setFaults({ latencyMs: 100 });
    for (let i = 0; i < 25; i++) assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: `u${i}` } }), null);
    assert.equal(handed.length, 2, 'the full batches at once');
    await Promise.resolve();
    assert.equal(handed.length, 3, 'the partial batch at the end of the task');
    assert.equal(collector.events.length, 0);
    await Promise.all(handed.map((entry) => entry.promise));
    assert.equal(collector.events.length, 25);
    // Each promise settled after its own batch arrived (2 slots: the first two batches may land in either order).
    assert.ok(handed.every((entry) => entry.arrivedAtSettle! >= 5), JSON.stringify(handed.map((entry) => entry.arrivedAtSettle)));
    await client.close();
  });

  test('a promise settles (never rejects) only once retries have delivered its batch', async () => {
    const handed: Promise<unknown>[] = [];
    const client = createInstance({ datafile: datafile(), odp: { initialBackoffMs: 20 }, waitUntil: (promise) => handed.push(promise) });
    collector.setFaults({ status: 503 });
    client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'retried' } });
    await Promise.resolve();
    assert.equal(handed.length, 1);
    setTimeout(() => collector.setFaults({}), 100);
    await handed[0];
    assert.equal(collector.events.length, 1);
    assert.ok(client.stats().retries >= 1);
    await client.close();
  });

  test('a waitUntil that throws is logged, never thrown, and the event is still delivered', async () => {
    const logger = captureLogger();
    const client = createInstance({
      datafile: datafile(),
      logger,
      waitUntil: () => {
        throw new TypeError('Illegal invocation');
      },
    });
    assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'x' } }), null);
    await client.flush();
    assert.equal(collector.events.length, 1);
    assert.match(logger.text(), /error: .*waitUntil threw .*Illegal invocation/);
    await client.close();
  });

  test('a waitUntil that is not a function is reported and ignored', async () => {
    const logger = captureLogger();
    const client = createInstance({ datafile: datafile(), logger, waitUntil: 'soon' as unknown as () => void });
    assert.match(logger.text(), /invalid config: waitUntil must be a function/);
    client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'y' } });
    await client.close();
    assert.equal(collector.events.length, 1);
  });
});
