import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { parseDatafile } from '../src/datafile/parse-datafile';
import { createInstance, type OdpClientEvents } from '../src/index';
import { checkAccounting, Ledger } from './support/accounting';
import { API_KEY, captureLogger, fixtureDatafile, readFixture, sleep, until } from './support/helpers';

let a: Collector;
let b: Collector;
const KEY_B = 'second-public-key';


const template = () => `${a.url}/datafiles/{sdkKey}.json`;
const event = (i: number) => ({ action: 'a', identifiers: { fs_user_id: `u${i}` }, data: { i } });

describe('datafile', { timeout: 60_000 }, () => {
  // Collectors per test: polls and requests of an earlier test cannot land in a later one.
  beforeEach(async () => {
    [a, b] = await Promise.all([startCollector({ apiKey: API_KEY }), startCollector({ apiKey: KEY_B })]);
  });
  afterEach(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  test('given directly as an object or a JSON string: ready at once', async () => {
    for (const datafile of [fixtureDatafile(a.url), JSON.stringify(fixtureDatafile(a.url))]) {
      const client = createInstance({ datafile });
      assert.ok(client.isReady());
      await client.onReady();
      assert.equal(client.sendOdpEvent(event(1)), null);
      await client.close();
    }
    assert.equal(a.events.length, 2);
  });

  test('the real datafiles parse, ODP settings read, the rest ignored', () => {
    const odp = parseDatafile(readFixture('real/optimizely-go-sdk-odp-datafile.json'), false);
    assert.ok(typeof odp !== 'string', String(odp));
    assert.equal(odp.odp?.host, 'https://api.zaius.com');
    assert.ok(odp.odp?.publicKey);
    const decide = parseDatafile(readFixture('real/optimizely-go-sdk-decide-datafile.json'), false);
    assert.ok(typeof decide !== 'string', String(decide));
    assert.ok(decide.odp?.publicKey && decide.odp.publicKey !== odp.odp?.publicKey);
  });

  test('invalid datafiles: not ready, error logged, nothing thrown', async () => {
    for (const datafile of ['{', '[]', 'null', '42', '"text"', '{"integrations": {}}', [] as unknown as object]) {
      const logger = captureLogger();
      const client = createInstance({ datafile, logger });
      assert.equal(client.isReady(), false, String(datafile));
      assert.equal(client.sendOdpEvent(event(1))?.code, 'sdkNotReady');
      assert.ok(logger.lines.some((l) => l.level === 'error'), `an error is logged for ${String(datafile)}`);
      await client.close();
    }
  });

  test('sdkKey: fetched from the URL template, then polled with conditional requests', async () => {
    const updates: Array<OdpClientEvents['datafileUpdate']> = [];
    const client = createInstance({ sdkKey: 'poll-key', datafileUrlTemplate: template(), datafileUpdateIntervalMs: 50 });
    client.on('datafileUpdate', (u) => updates.push(u));
    await client.onReady({ timeoutMs: 2000 });
    await until(() => a.stats().datafileRequests >= 5, 3000, 'five polls');
    assert.equal(updates.length, 1, 'unchanged datafiles (304) are not taken again');
    assert.equal(updates[0]!.odp?.host, a.url);
    await client.close();
    const requests = a.stats().datafileRequests;
    await sleep(200);
    assert.equal(a.stats().datafileRequests, requests, 'polling stops at close()');
  });

  test('datafileUpdateIntervalMs 0 fetches once', async () => {
    const client = createInstance({ sdkKey: 'once', datafileUrlTemplate: template(), datafileUpdateIntervalMs: 0 });
    await client.onReady({ timeoutMs: 2000 });
    await sleep(200);
    assert.equal(a.stats().datafileRequests, 1);
    await client.close();
  });

  test('a failed first fetch is retried until a datafile arrives', async () => {
    a.setDatafile('late', 'not json');
    const logger = captureLogger();
    const client = createInstance({ sdkKey: 'late', datafileUrlTemplate: template(), datafileUpdateIntervalMs: 100, logger });
    await until(() => a.stats().datafileRequests >= 2, 3000, 'a second attempt');
    assert.equal(client.isReady(), false);
    a.setDatafile('late', fixtureDatafile(a.url));
    await client.onReady({ timeoutMs: 3000 });
    assert.match(logger.text(), /not valid JSON/);
    await client.close();
  });

  test('a failed poll keeps the last good datafile', async () => {
    a.setDatafile('flaky', fixtureDatafile(a.url));
    const logger = captureLogger();
    const client = createInstance({ sdkKey: 'flaky', datafileUrlTemplate: template(), datafileUpdateIntervalMs: 50, logger });
    await client.onReady({ timeoutMs: 2000 });
    a.setDatafile('flaky', '{"broken":');
    await until(() => /not valid JSON/.test(logger.text()), 3000, 'a failed poll');
    assert.ok(client.isReady());
    assert.equal(client.sendOdpEvent(event(1)), null);
    await client.close();
    assert.equal(a.events.length, 1, 'still delivered with the last good settings');
  });

  test('a new ODP host and key: queued events go with the old settings first, new ones with the new', async () => {
    a.setDatafile('moving', fixtureDatafile(a.url, API_KEY));
    const client = createInstance({
      sdkKey: 'moving',
      datafileUrlTemplate: template(),
      datafileUpdateIntervalMs: 50,
      odp: { flushIntervalMs: 60_000, batchSize: 100 },
    });
    await client.onReady({ timeoutMs: 2000 });
    const ledger = new Ledger(client);
    for (let i = 0; i < 3; i++) assert.equal(ledger.send(i, event(i)), null);
    const moved = new Promise<void>((resolve) => client.on('datafileUpdate', () => resolve()));
    a.setDatafile('moving', fixtureDatafile(b.url, KEY_B));
    await moved;
    await a.waitForEvents(3, 2000);
    assert.equal(a.batches[0]!.headers['x-api-key'], API_KEY);
    for (let i = 3; i < 5; i++) assert.equal(ledger.send(i, event(i)), null);
    await client.close();
    assert.deepEqual(a.events.map((e) => e.data.i), [0, 1, 2]);
    assert.deepEqual(b.events.map((e) => e.data.i), [3, 4]);
    assert.equal(b.batches[0]!.headers['x-api-key'], KEY_B);
    checkAccounting(ledger, [...a.events, ...b.events]);
  });

  test('a datafile that drops the ODP integration: queued events still go out, new ones are odpNotIntegrated', async () => {
    a.setDatafile('dropping', fixtureDatafile(a.url));
    const client = createInstance({ sdkKey: 'dropping', datafileUrlTemplate: template(), datafileUpdateIntervalMs: 50, odp: { flushIntervalMs: 60_000 } });
    await client.onReady({ timeoutMs: 2000 });
    assert.equal(client.sendOdpEvent(event(0)), null);
    const updated = new Promise<void>((resolve) => client.on('datafileUpdate', () => resolve()));
    a.setDatafile('dropping', { version: '4', integrations: [] });
    await updated;
    assert.equal(client.sendOdpEvent(event(1))?.code, 'odpNotIntegrated');
    await client.close();
    assert.deepEqual(a.events.map((e) => e.data.i), [0]);
  });
});
