import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { createInstance } from '../src/index';
import { createFetchTransport } from '../src/transport/fetch-transport';
import type { HttpRequest } from '../src/transport/transport';
import { API_KEY, captureLogger } from './support/helpers';

let collector: Collector;
before(async () => {
  collector = await startCollector({ apiKey: API_KEY });
});
after(() => collector.close());
beforeEach(() => collector.reset());

/** The smallest datafile the client takes, its ODP integration pointed at the collector. */
function datafile(): Record<string, unknown> {
  return { version: '4', revision: '1', accountId: '1', projectId: '2', integrations: [{ key: 'odp', host: collector.url, publicKey: API_KEY }] };
}

function wireEvents(count: number, from = 0) {
  return Array.from({ length: count }, (_, i) => ({
    type: 'fullstack',
    action: 'purchased',
    identifiers: { fs_user_id: `user-${from + i}`, email: `user-${from + i}@example.com` },
    data: { idempotence_id: `id-${from + i}`, data_source_type: 'sdk', data_source: 'test', data_source_version: '0', item: 'é🙂', price: i },
  }));
}

async function sendWith(compression: 'gzip' | 'none' | undefined, count: number) {
  const logger = captureLogger();
  const client = createInstance({ datafile: datafile(), logger, odp: compression === undefined ? {} : { compression } });
  await client.onReady({ timeoutMs: 2000 });
  for (let i = 0; i < count; i++) {
    assert.equal(client.sendOdpEvent('fullstack', 'purchased', { fs_user_id: `user-${i}` }, { item: 'é🙂', n: i }), null);
  }
  await client.flush();
  await client.close();
  return { stats: client.stats(), logger };
}

describe('odp.compression (Node transport)', { timeout: 30_000 }, () => {
  test("'gzip' sends gzip bodies that the collector inflates: every event arrives intact, in fewer bytes", async () => {
    const { stats } = await sendWith('gzip', 25);
    assert.equal(stats.delivered, 25);
    // 10 + 10 + 5, before any answer was seen: no merging yet, a request per batch.
    assert.equal(collector.batches.length, 3);
    for (const batch of collector.batches) {
      assert.equal(batch.status, 202);
      assert.equal(batch.headers['content-encoding'], 'gzip');
      const events = JSON.parse(batch.body) as unknown[];
      assert.ok(Number(batch.headers['content-length']) < Buffer.byteLength(batch.body) / 2, 'a batch of events compresses to less than half');
      assert.equal(Number(batch.headers['content-length']), gzipSync(batch.body, { level: 1 }).length);
      assert.ok(events.length > 0);
    }
    assert.deepEqual(
      collector.events.map((e) => [e.identifiers.fs_user_id, e.data.item, e.data.n]),
      Array.from({ length: 25 }, (_, i) => [`user-${i}`, 'é🙂', i]),
    );
  });

  test('off by default: plain JSON with its own length and Host, no Content-Encoding', async () => {
    await sendWith(undefined, 10);
    const [batch] = collector.batches;
    assert.equal(batch!.headers.host, new URL(collector.url).host);
    assert.equal(batch!.headers['content-encoding'], undefined);
    assert.equal(Number(batch!.headers['content-length']), Buffer.byteLength(batch!.body));
    assert.equal(collector.events.length, 10);
  });

  test('an unknown value is reported and falls back to no compression', async () => {
    const { logger } = await sendWith('brotli' as 'gzip', 10);
    assert.match(logger.text(), /odp\.compression must be 'gzip' or 'none'; using none/);
    assert.equal(collector.batches[0]!.headers['content-encoding'], undefined);
    assert.equal(collector.events.length, 10);
  });
});

describe('odp.compression (fetch transport, CompressionStream)', { timeout: 30_000 }, () => {
  const request = (events: unknown[], extra: Partial<HttpRequest> = {}): HttpRequest => ({
    method: 'POST',
    url: `${collector.url}/v3/events`,
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
    body: JSON.stringify(events),
    timeoutMs: 5000,
    compression: 'gzip',
    ...extra,
  });

  test('compresses with CompressionStream and sets Content-Encoding: gzip; the collector gets the events intact', async () => {
    const transport = createFetchTransport(fetch);
    const events = wireEvents(10);
    const response = await transport.request(request(events));
    transport.close();
    assert.equal(response.status, 202);
    const [batch] = collector.batches;
    assert.equal(batch!.headers['content-encoding'], 'gzip');
    assert.ok(Number(batch!.headers['content-length']) < Buffer.byteLength(JSON.stringify(events)) / 2);
    assert.deepEqual(JSON.parse(batch!.body), events);
  });

  test('keep-alive (page-hide) requests go plain, as do runtimes without CompressionStream', async () => {
    const transport = createFetchTransport(fetch);
    assert.equal((await transport.request(request(wireEvents(3), { keepalive: true }))).status, 202);
    const saved = globalThis.CompressionStream;
    Reflect.deleteProperty(globalThis, 'CompressionStream');
    try {
      assert.equal((await transport.request(request(wireEvents(3, 3)))).status, 202);
    } finally {
      globalThis.CompressionStream = saved;
    }
    transport.close();
    assert.deepEqual(collector.batches.map((b) => b.headers['content-encoding']), [undefined, undefined]);
    assert.deepEqual(collector.events.map((e) => e.data.idempotence_id), ['id-0', 'id-1', 'id-2', 'id-3', 'id-4', 'id-5']);
  });
});

describe('collector: gzip request bodies', { timeout: 30_000 }, () => {
  test('a body that does not inflate is a 400, not a crash', async () => {
    const response = await fetch(`${collector.url}/v3/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'content-encoding': 'gzip' },
      body: '[not gzip]',
    });
    assert.equal(response.status, 400);
    assert.equal(collector.events.length, 0);
  });
});
