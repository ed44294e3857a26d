import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { Client } from '../src/client/odp-client';
import { createInstance } from '../src/index';
import { nodePlatform } from '../src/platform/node/node-platform';
import { checkAccounting, Ledger } from './support/accounting';
import { API_KEY, fixtureDatafile, sleep } from './support/helpers';

let collector: Collector;
const send = (client: ReturnType<typeof createInstance>, n: number, from = 0) => {
  for (let i = from; i < from + n; i++) assert.equal(client.sendOdpEvent({ action: 'view', identifiers: { fs_user_id: `u${i}` }, data: { i } }), null);
};
const sizes = () => collector.batches.map((batch) => (JSON.parse(batch.body) as unknown[]).length);

describe('batching and flushing', { timeout: 60_000 }, () => {
  // A collector per test: connections and requests of an earlier test cannot show in a later one.
  beforeEach(async () => {
    collector = await startCollector({ apiKey: API_KEY });
  });
  afterEach(() => collector?.close());

  test('a full batch is sent at once, without waiting for the interval (one slot: in order)', async () => {
    const client = createInstance({ datafile: fixtureDatafile(collector.url), odp: { batchSize: 10, flushIntervalMs: 60_000, maxConcurrentRequests: 1 } });
    send(client, 25);
    await collector.waitForEvents(20, 2000);
    await sleep(100);
    // No answer seen yet, so no merging: the two full batches go one after the other; the other 5 wait for the interval.
    assert.deepEqual(sizes(), [10, 10], 'two full batches at once; the other 5 wait for the interval');
    await client.close();
    assert.deepEqual(sizes(), [10, 10, 5], 'close() sends the partial batch');
    assert.deepEqual(collector.events.map((e) => e.data.i), Array.from({ length: 25 }, (_, i) => i), 'in order');
  });

  test('a partial batch goes out flushIntervalMs after the first event entered the empty queue', async () => {
    // A long interval, so that a busy machine cannot stretch the 150 ms pause past it.
    const client = createInstance({ datafile: fixtureDatafile(collector.url), odp: { batchSize: 10, flushIntervalMs: 1000 } });
    const start = Date.now();
    send(client, 3);
    await sleep(150);
    send(client, 2, 3); // must not restart the timer
    await collector.waitForEvents(5, 5000);
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 980, `sent after ${elapsed} ms, before the interval`);
    assert.deepEqual(sizes(), [5]);
    await client.close();
  });

  test('flushIntervalMs 0 sends at once; a synchronous burst shares requests', async () => {
    const client = createInstance({ datafile: fixtureDatafile(collector.url), odp: { batchSize: 10, flushIntervalMs: 0 } });
    send(client, 3);
    await collector.waitForEvents(3, 1000);
    assert.deepEqual(sizes(), [3]);
    send(client, 1, 3);
    await collector.waitForEvents(4, 1000);
    assert.deepEqual(sizes(), [3, 1]);
    await client.close();
  });

  test('flush() resolves once everything queued so far is delivered', async () => {
    const client = createInstance({ datafile: fixtureDatafile(collector.url), odp: { batchSize: 4, flushIntervalMs: 60_000 } });
    send(client, 10);
    await client.flush();
    assert.equal(collector.events.length, 10);
    assert.deepEqual(client.stats().queued + client.stats().inFlight, 0);
    assert.equal(client.stats().delivered, 10);
    await client.close();
  });

  test('no timer runs while the queue is idle', async () => {
    // The real Node platform, with its timer function counted.
    let live = 0;
    const platform = {
      ...nodePlatform,
      schedule(fn: () => void, ms: number) {
        live++;
        let done = false;
        const settle = () => {
          if (!done) live--;
          done = true;
        };
        const cancel = nodePlatform.schedule(() => {
          settle();
          fn();
        }, ms);
        return () => {
          settle();
          cancel();
        };
      },
    };
    const client = new Client({ datafile: fixtureDatafile(collector.url), odp: { flushIntervalMs: 1000 } }, platform);
    assert.equal(live, 0, 'an idle client holds no timer');
    send(client, 1);
    assert.equal(live, 1, 'one timer for the partial batch');
    send(client, 3, 1);
    assert.equal(live, 1, 'still one');
    await client.flush();
    assert.equal(live, 0, 'none once the queue is empty');
    send(client, 1, 4);
    await client.close();
    assert.equal(live, 0, 'none after close()');
    assert.equal(collector.events.length, 5);
  });

  test('listeners see delivered batches; on() returns an unsubscribe function', async () => {
    const client = createInstance({ datafile: fixtureDatafile(collector.url), odp: { batchSize: 5, flushIntervalMs: 60_000 } });
    const ledger = new Ledger(client);
    const seen: number[] = [];
    const off = client.on('delivered', ({ count, status }) => {
      assert.equal(status, 202);
      seen.push(count);
    });
    for (let i = 0; i < 5; i++) ledger.send(i);
    await client.flush();
    off();
    for (let i = 5; i < 10; i++) ledger.send(i);
    await client.flush();
    assert.deepEqual(seen, [5]);
    await client.close();
    checkAccounting(ledger, collector.events);
  });

  test('maxConcurrentRequests bounds the open connections', async () => {
    collector.setFaults({ latencyMs: 30 });
    const client = createInstance({ datafile: fixtureDatafile(collector.url), odp: { batchSize: 1, flushIntervalMs: 0, maxConcurrentRequests: 2 } });
    send(client, 12);
    await client.flush();
    collector.setFaults({});
    assert.equal(collector.events.length, 12);
    assert.ok(collector.stats().maxOpenConnections <= 2, `opened ${collector.stats().maxOpenConnections} connections`);
    assert.ok(collector.stats().maxOpenConnections >= 2, 'both lanes were used');
    await client.close();
  });
});
