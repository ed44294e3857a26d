import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startCollector } from '../../collector/src/collector';
import { createInstance } from '../../src/index';
import { API_KEY, captureLogger } from '../support/helpers';
import { withRig } from './setup';

const actions = (events: Array<{ action: string }>) => events.map((event) => event.action);
describe('user contexts', { timeout: 60_000 }, () => {
  test('without a visitor id there is one identifier: no identified event', async () => {
    await withRig({}, async ({ collector, client }) => {
      const user = client.createUserContext('user123', { age: 31 });
      assert.ok(user !== null && typeof user.fetchQualifiedSegments === 'function');
      assert.equal(user.userId, 'user123');
      assert.deepEqual(user.attributes, { age: 31 });
      assert.equal(user.qualifiedSegments, null);
      assert.equal(user.isQualifiedFor('has_email'), false);
      // A marker sent after it: once the marker is delivered, an identified event would have been too.
      assert.equal(client.sendOdpEvent({ action: 'marker', identifiers: { fs_user_id: 'user123' } }), null);
      await client.flush();
      assert.deepEqual(actions(collector.events), ['marker']);
      assert.equal(client.stats().accepted, 1);
    });
  });

  test('with a visitor id, fs_user_id and vuid make two: the identified event is sent', async () => {
    await withRig({ client: { vuid: true } }, async ({ collector, client }) => {
      const vuid = client.getVuid();
      assert.ok(vuid);
      const user = client.createUserContext('user123');
      assert.ok(user);
      await client.flush();
      assert.deepEqual(actions(collector.events), ['client_initialized', 'identified']);
      const identified = collector.events[1]!;
      assert.equal(identified.type, 'fullstack');
      assert.deepEqual(identified.identifiers, { fs_user_id: 'user123', vuid });
      assert.equal(identified.data.data_source_type, 'sdk');
      assert.equal(typeof identified.data.idempotence_id, 'string');
      // One per user context, as the reference SDKs do.
      client.createUserContext('user456');
      await client.flush();
      assert.deepEqual(collector.events[2]?.identifiers, { fs_user_id: 'user456', vuid });
    });
  });

  test('a user id that is the visitor id itself is one identifier: no identified event', async () => {
    await withRig({ client: { vuid: true } }, async ({ collector, client }) => {
      const vuid = client.getVuid()!;
      assert.ok(client.createUserContext(vuid));
      client.sendOdpEvent({ action: 'marker', identifiers: { fs_user_id: 'm' } });
      await client.flush();
      assert.deepEqual(actions(collector.events), ['client_initialized', 'marker']);
    });
  });

  test('without a usable ODP integration a context is still made, and nothing is sent', async () => {
    const logger = captureLogger();
    const client = createInstance({ datafile: { revision: '1', integrations: [] }, vuid: true, logger, logLevel: 'debug' });
    try {
      const user = client.createUserContext('user123');
      assert.ok(user);
      assert.equal(client.stats().accepted, 0);
      assert.equal(client.stats().rejected.odpNotIntegrated, undefined); // not attempted, so not counted
      assert.equal(await user.fetchQualifiedSegments(), false);
      assert.equal(user.qualifiedSegments, null);
      assert.match(logger.text(), /warn: .*fetching qualified segments for fs_user_id failed: no ODP host and publicKey in the datafile/);
    } finally {
      await client.close({ timeoutMs: 0 });
    }
  });

  test('before ready: null, a warning, and the identified event is discarded (counted as sdkNotReady)', async () => {
    const collector = await startCollector();
    const logger = captureLogger();
    const client = createInstance({
      sdkKey: 'late',
      datafileUrlTemplate: `${collector.url}/datafiles/{sdkKey}.json`,
      vuid: true,
      logger,
    });
    try {
      assert.equal(client.isReady(), false);
      assert.equal(client.createUserContext('user123', { age: 31 }), null);
      assert.match(logger.text(), /warn: \[odp-sdk\] createUserContext: the datafile is not ready yet: no user context, identified event discarded/);
      assert.equal(client.stats().rejected.sdkNotReady, 1);
      await client.onReady({ timeoutMs: 5000 });
      await client.flush();
      // Only the event the client sends itself once ready; the discarded identify never comes back.
      assert.deepEqual(actions(collector.events), ['client_initialized']);
      assert.equal(collector.stats().graphqlRequests, 0);
    } finally {
      await client.close({ timeoutMs: 1000 });
      await collector.close();
    }
  });

  test('bad user ids and attributes never throw', async () => {
    await withRig({}, async ({ client, logger }) => {
      for (const bad of ['', undefined, null, 42, {}, Symbol('u')]) {
        assert.equal(client.createUserContext(bad as unknown as string), null);
      }
      assert.match(logger.text(), /error: \[odp-sdk\] createUserContext: userId must be a non-empty string/);
      const user = client.createUserContext('user123', ['not', 'an', 'object'] as unknown as Record<string, string>);
      assert.ok(user);
      assert.deepEqual(user.attributes, {});
      const hostile = Object.defineProperty({}, 'age', { enumerable: true, get: () => { throw new Error('boom'); } });
      assert.equal(client.createUserContext('user123', hostile), null);
      assert.match(logger.text(), /createUserContext failed: Error: boom/);
      // The attributes are the context's own copy.
      const given = { age: 31 };
      const copy = client.createUserContext('user123', given)!;
      given.age = 99;
      assert.deepEqual(copy.attributes, { age: 31 });
      assert.ok(!logger.text().includes(API_KEY));
    });
  });
});
