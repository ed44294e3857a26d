import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { createInstance, OdpError } from '../src/index';
import { checkAccounting, Ledger } from './support/accounting';
import { API_KEY, captureLogger, fixtureDatafile, until } from './support/helpers';

let collector: Collector;
const event = { action: 'purchased', identifiers: { fs_user_id: 'u1' } };


function codeOf(result: OdpError | null): string | null {
  if (result === null) return null;
  assert.ok(result instanceof OdpError && result instanceof Error);
  return result.code;
}

describe('error codes, in the contract order', { timeout: 60_000 }, () => {
  // A collector per test: nothing an earlier test left in flight can land in a later one.
  beforeEach(async () => {
    collector = await startCollector({ apiKey: API_KEY });
  });
  afterEach(() => collector?.close());

  test('sdkNotReady: events before the datafile is held are discarded with a warning (once), even invalid ones', async () => {
    const logger = captureLogger();
    const client = createInstance({ sdkKey: 'key1', datafileUrlTemplate: `${collector.url}/datafiles/{sdkKey}.json`, logger });
    assert.equal(codeOf(client.sendOdpEvent(event)), 'sdkNotReady');
    assert.equal(codeOf(client.sendOdpEvent({ action: '', identifiers: {} } as never)), 'sdkNotReady', 'readiness is checked first');
    // One warning; the second refusal of the same kind is counted (and summarised), not a line per event.
    const warnings = logger.lines.filter((line) => line.level === 'warn' && /not ready/.test(line.message));
    assert.equal(warnings.length, 1);
    await client.onReady({ timeoutMs: 3000 });
    assert.equal(client.sendOdpEvent(event), null);
    await client.close();
    assert.equal(collector.events.length, 1, 'only the event sent after ready arrives');
    assert.equal(client.stats().rejected.sdkNotReady, 2);
    assert.equal(client.stats().accepted, 1);
  });

  test('odpNotEnabled: odp.disabled, checked before integration', async () => {
    const client = createInstance({ datafile: { version: '4', integrations: [] }, odp: { disabled: true }, logLevel: 'silent' });
    const result = client.sendOdpEvent(event);
    assert.equal(codeOf(result), 'odpNotEnabled');
    assert.match(result!.message, /odp\.disabled/);
    await client.close();
  });

  test('odpNotIntegrated: no ODP entry, missing host or key, or a non-https remote host', async () => {
    const datafiles: unknown[] = [
      { version: '4' },
      { version: '4', integrations: [] },
      { version: '4', integrations: [{ key: 'odp', host: '', publicKey: 'k' }] },
      { version: '4', integrations: [{ key: 'odp', host: 'https://api.zaius.com' }] },
      { version: '4', integrations: [{ key: 'odp', host: 'http://api.zaius.com', publicKey: 'k' }] },
      { version: '4', integrations: [{ key: 'odp', host: 'ftp://api.zaius.com', publicKey: 'k' }] },
      { version: '4', integrations: [{ key: 'other', host: 'https://api.zaius.com', publicKey: 'k' }] },
    ];
    for (const datafile of datafiles) {
      const logger = captureLogger();
      const client = createInstance({ datafile: datafile as object, logger });
      assert.ok(client.isReady(), 'a datafile without ODP is still a valid datafile');
      assert.equal(codeOf(client.sendOdpEvent(event)), 'odpNotIntegrated', JSON.stringify(datafile));
      assert.match(logger.text(), /ODP not integrated/);
      await client.close();
    }
    const insecure = createInstance({ datafile: datafiles[4] as object, odp: { allowInsecureHost: true }, logLevel: 'silent' });
    assert.equal(insecure.sendOdpEvent(event), null, 'plain http is accepted with the explicit opt-in');
    await insecure.close({ timeoutMs: 0 });
  });

  test('invalid input: each field named in its error', async () => {
    const client = createInstance({ datafile: fixtureDatafile(collector.url), logLevel: 'silent' });
    assert.equal(codeOf(client.sendOdpEvent({ action: 'a', identifiers: {} })), 'invalidIdentifiers');
    assert.equal(codeOf(client.sendOdpEvent({ action: '', identifiers: { email: 'e' } })), 'invalidAction');
    assert.equal(codeOf(client.sendOdpEvent({ action: 'a', identifiers: { email: 'e' }, data: { x: {} as never } })), 'invalidData');
    assert.match(client.sendOdpEvent({ action: 'a', identifiers: { email: 'e' }, data: { price: NaN } })!.message, /data\.price/);
    await client.close();
    assert.equal(collector.events.length, 0);
  });

  test('queueFull: the bound counts queued events', async () => {
    const client = createInstance({ datafile: fixtureDatafile(collector.url), logLevel: 'silent', odp: { queueSize: 3, batchSize: 100, flushIntervalMs: 60_000 } });
    for (let i = 0; i < 3; i++) assert.equal(client.sendOdpEvent(event), null);
    const full = client.sendOdpEvent(event);
    assert.equal(codeOf(full), 'queueFull');
    assert.match(full!.message, /queueSize/);
    await client.close();
    assert.equal(collector.events.length, 3, 'the queued events are still delivered');
    assert.equal(client.stats().rejected.queueFull, 1);
  });

  test('queueFull: the bound also counts batches waiting for a retry', async () => {
    collector.setFaults({ status: 503 });
    const client = createInstance({ datafile: fixtureDatafile(collector.url), logLevel: 'silent', odp: { queueSize: 4, batchSize: 2, flushIntervalMs: 0, initialBackoffMs: 60_000, maxBackoffMs: 60_000 } });
    const ledger = new Ledger(client);
    for (let i = 0; i < 4; i++) assert.equal(ledger.send(i), null);
    await until(() => client.stats().retries === 0 && collector.stats().requests >= 1, 3000, 'a failed request');
    assert.equal(codeOf(client.sendOdpEvent(event)), 'queueFull');
    const stats = client.stats();
    assert.equal(stats.queued + stats.inFlight, 4);
    collector.setFaults({});
    await client.close({ timeoutMs: 3000 });
    assert.equal(collector.events.length, 4, 'close() retries the waiting batches at once');
    checkAccounting(ledger, collector.events);
  });

  test('closed: events after close() are refused; close() is idempotent', async () => {
    const client = createInstance({ datafile: fixtureDatafile(collector.url), logLevel: 'silent' });
    await client.close();
    await client.close();
    assert.equal(codeOf(client.sendOdpEvent(event)), 'closed');
    assert.equal(client.stats().rejected.closed, 1);
  });

  test('onReady({ timeoutMs }) rejects with a clear Error when no datafile arrives', async () => {
    collector.setDatafile('broken', '{not json');
    const logger = captureLogger();
    const client = createInstance({ sdkKey: 'broken', datafileUrlTemplate: `${collector.url}/datafiles/{sdkKey}.json`, logger });
    await assert.rejects(client.onReady({ timeoutMs: 300 }), /no valid datafile within 300 ms; datafile http:\/\/127\.0\.0\.1:\d+\/datafiles\/broken\.json failed: not valid JSON/);
    assert.equal(codeOf(client.sendOdpEvent(event)), 'sdkNotReady');
    assert.match(logger.text(), /not valid JSON/);
    await client.close();
  });

  test('sendOdpEvent never throws, even with a throwing logger and listeners', async () => {
    const evil = { debug() { throw new Error('x'); }, info() { throw new Error('x'); }, warn() { throw new Error('x'); }, error() { throw new Error('x'); } };
    const client = createInstance({ sdkKey: 'k', datafileUrlTemplate: `${collector.url}/datafiles/{sdkKey}.json`, logger: evil, logLevel: 'debug' });
    client.on('delivered', () => { throw new Error('listener'); });
    assert.equal(codeOf(client.sendOdpEvent(event)), 'sdkNotReady');
    await client.onReady();
    assert.equal(client.sendOdpEvent(event), null);
    await client.flush();
    await client.close();
    assert.equal(collector.events.length, 1);
  });

  test('bad config values fall back to defaults with a clear error, and never throw', async () => {
    const logger = captureLogger();
    const client = createInstance({ datafile: fixtureDatafile(collector.url), logger, odp: { batchSize: -1, flushIntervalMs: 'soon' as never, queueSize: 1.5 } });
    assert.match(logger.text(), /odp\.batchSize must be an integer >= 1/);
    assert.match(logger.text(), /odp\.flushIntervalMs/);
    assert.match(logger.text(), /odp\.queueSize/);
    assert.equal(client.sendOdpEvent(event), null);
    await client.close();
    const none = createInstance(undefined as never);
    assert.equal(codeOf(none.sendOdpEvent(event)), 'sdkNotReady');
    await none.close();
  });
});
