// beforeSend and opt-out with a real collector: what reaches the wire, what does not, and the counts.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { createInstance, type OdpClientEvents, type OdpEvent } from '../src/index';
import { API_KEY, captureLogger, fixtureDatafile } from './support/helpers';

let collector: Collector;

describe('privacy', { timeout: 60_000 }, () => {
  before(async () => {
    collector = await startCollector({ apiKey: API_KEY });
  });
  after(() => collector.close());
  beforeEach(() => {
    collector.reset();
    collector.setFaults({});
  });

  function client(config: Parameters<typeof createInstance>[0] = {}) {
    const logger = captureLogger();
    const instance = createInstance({ datafile: fixtureDatafile(collector.url), logger, logLevel: 'info', ...config, odp: { flushIntervalMs: 0, initialBackoffMs: 20, ...config.odp } });
    const dropped: Array<OdpClientEvents['dropped']> = [];
    instance.on('dropped', (payload) => dropped.push(payload));
    return { instance, logger, dropped };
  }

  describe('beforeSend', () => {
    test('redacts and enriches: the wire carries what the hook returned, explicit and implicit events alike', async () => {
      const seen: OdpEvent[] = [];
      const { instance } = client({
        vuid: true,
        beforeSend(event) {
          seen.push(structuredClone(event));
          const { email, ...identifiers } = event.identifiers;
          return { ...event, identifiers: email ? { ...identifiers, email: 'redacted@example.com' } : identifiers, data: { ...event.data, app: 'shop' } };
        },
      });
      await instance.onReady();
      assert.equal(instance.sendOdpEvent({ action: 'purchased', identifiers: { fs_user_id: 'u1', email: 'jane@example.com' }, data: { price: 5 } }), null);
      await instance.close();
      assert.equal(collector.events.length, 2); // client_initialized (implicit) and purchased
      assert.ok(!JSON.stringify(collector.batches.map((batch) => batch.body)).includes('jane@example.com'), 'the raw email never left');
      const purchased = collector.events.find((event) => event.action === 'purchased')!;
      assert.equal(purchased.identifiers.email, 'redacted@example.com');
      assert.equal(purchased.data.app, 'shop');
      assert.equal(purchased.data.idempotence_id, seen.find((event) => event.action === 'purchased')!.data.idempotence_id, 'the hook saw the id that was sent');
      assert.equal(purchased.identifiers.vuid, instance.getVuid(), 'the hook saw the vuid, and kept it');
      assert.deepEqual(seen.map((event) => event.action).sort(), ['client_initialized', 'purchased']);
    });

    test('null drops the event: code filtered, counted, nothing on the wire', async () => {
      const { instance } = client({ beforeSend: (event) => (event.action === 'secret' ? null : event) });
      assert.equal(instance.sendOdpEvent({ action: 'secret', identifiers: { fs_user_id: 'u' } })?.code, 'filtered');
      assert.equal(instance.sendOdpEvent({ action: 'public', identifiers: { fs_user_id: 'u' } }), null);
      await instance.close();
      assert.deepEqual(collector.events.map((event) => event.action), ['public']);
      assert.equal(instance.stats().rejected.filtered, 1);
      assert.equal(instance.stats().accepted, 1);
    });

    test('a hook that throws never throws into the caller; each distinct message is logged once', async () => {
      let calls = 0;
      const { instance, logger } = client({
        beforeSend(event) {
          calls++;
          if (event.action === 'boom') throw new Error('bad hook');
          return event;
        },
      });
      for (let i = 0; i < 3; i++) assert.equal(instance.sendOdpEvent({ action: 'boom', identifiers: { fs_user_id: 'u' } })?.code, 'beforeSendFailed');
      assert.equal(instance.sendOdpEvent({ action: 'fine', identifiers: { fs_user_id: 'u' } }), null);
      await instance.close();
      assert.equal(calls, 4);
      assert.equal(logger.lines.filter((line) => line.message.includes('beforeSend threw: bad hook')).length, 1);
      assert.deepEqual(collector.events.map((event) => event.action), ['fine']);
      assert.equal(instance.stats().rejected.beforeSendFailed, 3);
    });

    test('what the hook returns is validated again', async () => {
      const { instance } = client({ beforeSend: (event) => ({ ...event, identifiers: {} }) });
      const error = instance.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' } });
      assert.equal(error?.code, 'beforeSendFailed');
      assert.match(error!.message, /identifiers empty/);
      const tooBig = client({ odp: { maxEventBytes: 1000 }, beforeSend: (event) => ({ ...event, data: { ...event.data, blob: 'x'.repeat(2000) } }) });
      assert.equal(tooBig.instance.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' } })?.code, 'beforeSendFailed');
      await Promise.all([instance.close(), tooBig.instance.close()]);
      assert.equal(collector.events.length, 0);
    });
  });

  describe('opt-out', () => {
    test('setOptOut(true) discards what is queued and waiting for a retry, counts it, and nothing reaches the wire until opted back in', async () => {
      collector.setFaults({ status: 503 });
      const { instance, dropped } = client({ vuid: true, odp: { flushIntervalMs: 60_000, batchSize: 10 } });
      await instance.onReady();
      for (let i = 0; i < 25; i++) instance.sendOdpEvent({ action: 'before', identifiers: { fs_user_id: `u${i}` } });
      const failed = new Promise<void>((resolve) => instance.on('dropped', () => resolve()));
      while (collector.batches.length < 2) await new Promise((resolve) => setTimeout(resolve, 10)); // both full batches met a 503
      const held = instance.stats().pending;
      assert.equal(held, 26, 'client_initialized and 25 events are held (two batches waiting for a retry, five queued)');
      instance.setOptOut(true);
      await failed;
      assert.equal(instance.isOptedOut(), true);
      assert.equal(instance.getVuid(), null, 'the visitor id is forgotten');
      const stats = instance.stats();
      assert.equal(stats.droppedByReason.optedOut, 26);
      assert.equal(stats.pending, 0);
      assert.equal(dropped.reduce((sum, drop) => sum + (drop.reason === 'optedOut' ? drop.count : 0), 0), 26);
      assert.equal(instance.sendOdpEvent({ action: 'during', identifiers: { fs_user_id: 'u' } })?.code, 'optedOut');
      collector.reset();
      collector.setFaults({});
      const user = instance.createUserContext('user1');
      assert.equal(await user!.fetchQualifiedSegments(), false, 'no segments request while opted out');
      await instance.flush();
      assert.equal(collector.batches.length, 0, 'nothing on the wire while opted out');
      assert.equal(collector.stats().graphqlRequests, 0);
      instance.setOptOut(false);
      assert.notEqual(instance.getVuid(), null, 'a new visitor id');
      assert.equal(instance.sendOdpEvent({ action: 'after', identifiers: { fs_user_id: 'u' } }), null);
      await instance.close();
      assert.deepEqual(collector.events.map((event) => event.action).sort(), ['after', 'client_initialized']);
      assert.ok(collector.events.every((event) => event.identifiers.vuid === instance.getVuid()), 'opting back in starts clean: the new id only');
    });

    test('optOut: true starts opted out: no client_initialized, no events, until setOptOut(false)', async () => {
      const { instance } = client({ optOut: true, vuid: true });
      await instance.onReady();
      assert.equal(instance.isOptedOut(), true);
      assert.equal(instance.getVuid(), null);
      assert.equal(instance.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' } })?.code, 'optedOut');
      await instance.flush();
      assert.equal(collector.batches.length, 0);
      instance.setOptOut(false);
      assert.equal(instance.sendOdpEvent({ action: 'b', identifiers: { fs_user_id: 'u' } }), null);
      await instance.close();
      assert.deepEqual(collector.events.map((event) => event.action).sort(), ['b', 'client_initialized']);
      assert.equal(instance.stats().rejected.optedOut, 1);
    });

    test('setOptOut with a non-boolean is refused with a log line, and changes nothing', async () => {
      const { instance, logger } = client();
      instance.setOptOut('yes' as unknown as boolean);
      assert.equal(instance.isOptedOut(), false);
      assert.match(logger.text(), /setOptOut expects true or false/);
      await instance.close();
    });
  });
});
