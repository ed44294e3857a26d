import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { createInstance, SDK_NAME, SDK_VERSION } from '../src/index';
import { API_KEY, captureLogger, fixtureDatafile } from './support/helpers';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let collector: Collector;

async function sendAndFlush(send: (client: ReturnType<typeof createInstance>) => void) {
  const logger = captureLogger();
  const client = createInstance({ datafile: fixtureDatafile(collector.url), logger, logLevel: 'debug' });
  send(client);
  await client.flush();
  await client.close();
  assert.ok(!logger.text().includes(API_KEY), 'the API key must never be logged');
  return client;
}

describe('wire format', { timeout: 60_000 }, () => {
  // A collector per test: each test reads only the requests it caused.
  beforeEach(async () => {
    collector = await startCollector({ apiKey: API_KEY });
  });
  afterEach(() => collector?.close());

  test('POST /v3/events with JSON content type, x-api-key and a JSON array of four-field events', async () => {
    await sendAndFlush((client) => {
      assert.equal(client.sendOdpEvent({ type: 'fullstack', action: 'purchased', identifiers: { fs_user_id: 'user123', email: 'jane@example.com' }, data: { item: 'shirt', price: 50 } }), null);
    });
    assert.equal(collector.batches.length, 1);
    const batch = collector.batches[0]!;
    assert.equal(batch.status, 202);
    assert.equal(batch.headers['content-type'], 'application/json');
    assert.equal(batch.headers['x-api-key'], API_KEY);
    const body = JSON.parse(batch.body) as unknown[];
    assert.ok(Array.isArray(body));
    assert.equal(body.length, 1);
    const event = body[0] as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(event), ['type', 'action', 'identifiers', 'data']);
    assert.equal(event.type, 'fullstack');
    assert.equal(event.action, 'purchased');
    assert.deepEqual(event.identifiers, { fs_user_id: 'user123', email: 'jane@example.com' });
    const { idempotence_id: id, ...rest } = event.data!;
    assert.match(String(id), UUID_V4);
    assert.deepEqual(rest, { data_source_type: 'sdk', data_source: SDK_NAME, data_source_version: SDK_VERSION, item: 'shirt', price: 50 });
  });

  test('type defaults to "fullstack" when missing, empty or null; the positional form sends the same event', async () => {
    await sendAndFlush((client) => {
      client.sendOdpEvent({ action: 'a1', identifiers: { email: 'x@y.z' } });
      client.sendOdpEvent({ type: '', action: 'a2', identifiers: { email: 'x@y.z' } });
      client.sendOdpEvent(null, 'a3', { email: 'x@y.z' });
      client.sendOdpEvent('custom', 'a4', { email: 'x@y.z' }, { k: 'v' });
    });
    assert.deepEqual(collector.events.map((e) => [e.type, e.action]), [['fullstack', 'a1'], ['fullstack', 'a2'], ['fullstack', 'a3'], ['custom', 'a4']]);
    assert.equal(collector.events[3]!.data.k, 'v');
  });

  test('FS-USER-ID, FS_USER_ID and fs-user-id in any case become fs_user_id; other keys pass unchanged', async () => {
    await sendAndFlush((client) => {
      for (const key of ['FS-USER-ID', 'FS_USER_ID', 'fs-user-id', 'Fs-User_Id']) client.sendOdpEvent({ action: 'a', identifiers: { [key]: 'u1', Email: 'E' } });
    });
    for (const event of collector.events) assert.deepEqual(event.identifiers, { fs_user_id: 'u1', Email: 'E' });
    assert.equal(collector.events.length, 4);
  });

  test('caller data overrides the defaults of the same name; null is sent as null', async () => {
    await sendAndFlush((client) => {
      client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: { data_source: 'my-app', data_source_version: '9', idempotence_id: 'fixed-id', data_source_type: 'custom', empty: null } });
    });
    assert.deepEqual(collector.events[0]!.data, { idempotence_id: 'fixed-id', data_source_type: 'custom', data_source: 'my-app', data_source_version: '9', empty: null });
  });

  test('every event gets its own idempotence_id', async () => {
    await sendAndFlush((client) => {
      for (let i = 0; i < 25; i++) client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: `u${i}` } });
    });
    const ids = new Set(collector.events.map((e) => e.data.idempotence_id));
    assert.equal(ids.size, 25);
  });

  test('SDK_VERSION and SDK_NAME match package.json', async () => {
    const pkg = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'))) as { name: string; version: string };
    assert.equal(SDK_NAME, pkg.name);
    assert.equal(SDK_VERSION, pkg.version);
  });
});
