import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startCollector } from '../../collector/src/collector';
import { createInstance } from '../../src/index';
import { API_KEY, captureLogger, fixtureDatafile, sleep, until } from '../support/helpers';
import { withRig } from './setup';

const segments = { user1: ['has_email'], user2: ['cart_abandoner'], user3: [] };
describe('the segments cache', { timeout: 60_000 }, () => {
  test('a second fetch for the same user is served from the cache', async () => {
    await withRig({ collector: { segments } }, async ({ collector, client }) => {
      const first = client.createUserContext('user1')!;
      assert.equal(await first.fetchQualifiedSegments(), true);
      collector.setSegments('user1', ['cart_abandoner']); // the server changes its mind; the cache has not expired
      const second = client.createUserContext('user1')!;
      assert.equal(await second.fetchQualifiedSegments(), true);
      assert.deepEqual(second.qualifiedSegments, ['has_email']);
      assert.equal(collector.stats().graphqlRequests, 1);
      // Another user is another entry.
      assert.equal(await client.createUserContext('user2')!.fetchQualifiedSegments(), true);
      assert.equal(collector.stats().graphqlRequests, 2);
    });
  });

  test('an entry expires after odp.segmentsCacheTimeoutMs', async () => {
    await withRig({ collector: { segments }, client: { odp: { segmentsCacheTimeoutMs: 50 } } }, async ({ collector, client }) => {
      const user = client.createUserContext('user1')!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      collector.setSegments('user1', ['cart_abandoner']);
      await sleep(150);
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['cart_abandoner']);
      assert.equal(collector.stats().graphqlRequests, 2);
    });
  });

  test('beyond odp.segmentsCacheSize the least recently used user is evicted', async () => {
    await withRig({ collector: { segments }, client: { odp: { segmentsCacheSize: 2 } } }, async ({ collector, client }) => {
      const fetch = async (userId: string) => assert.equal(await client.createUserContext(userId)!.fetchQualifiedSegments(), true);
      const requests = () => collector.stats().graphqlRequests;
      await fetch('user1');
      await fetch('user2');
      await fetch('user1'); // a hit, and user1 is now the most recently used
      assert.equal(requests(), 2);
      await fetch('user3'); // evicts user2
      assert.equal(requests(), 3);
      await fetch('user1');
      assert.equal(requests(), 3);
      await fetch('user2');
      assert.equal(requests(), 4);
    });
  });

  test('odp.segmentsCacheSize 0 turns the cache off', async () => {
    await withRig({ collector: { segments }, client: { odp: { segmentsCacheSize: 0 } } }, async ({ collector, client }) => {
      const user = client.createUserContext('user1')!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.equal(collector.stats().graphqlRequests, 2);
    });
  });

  test('ignoreCache asks the server and leaves the cache as it was', async () => {
    await withRig({ collector: { segments } }, async ({ collector, client }) => {
      const user = client.createUserContext('user1')!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      collector.setSegments('user1', ['cart_abandoner']);
      assert.equal(await user.fetchQualifiedSegments({ ignoreCache: true }), true);
      assert.deepEqual(user.qualifiedSegments, ['cart_abandoner']);
      assert.equal(collector.stats().graphqlRequests, 2);
      // Not written either: the cached answer is still the first one.
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['has_email']);
      assert.equal(collector.stats().graphqlRequests, 2);
    });
  });

  test('resetCache empties the whole cache, then caches the fresh answer', async () => {
    await withRig({ collector: { segments } }, async ({ collector, client }) => {
      const one = client.createUserContext('user1')!;
      const two = client.createUserContext('user2')!;
      assert.equal(await one.fetchQualifiedSegments(), true);
      assert.equal(await two.fetchQualifiedSegments(), true);
      collector.setSegments('user1', ['cart_abandoner']);
      assert.equal(await one.fetchQualifiedSegments({ resetCache: true }), true);
      assert.deepEqual(one.qualifiedSegments, ['cart_abandoner']);
      assert.equal(collector.stats().graphqlRequests, 3);
      assert.equal(await one.fetchQualifiedSegments(), true); // the fresh answer was cached
      assert.equal(collector.stats().graphqlRequests, 3);
      assert.equal(await two.fetchQualifiedSegments(), true); // user2's entry went with the reset
      assert.equal(collector.stats().graphqlRequests, 4);
    });
  });

  test('concurrent fetches for one user share one request; other users and ignoreCache get their own', async () => {
    await withRig({ collector: { segments, graphqlFaults: { latencyMs: 200 } } }, async ({ collector, client }) => {
      const users = [1, 2, 3, 4, 5].map(() => client.createUserContext('user1')!);
      const results = await Promise.all(users.map((user) => user.fetchQualifiedSegments()));
      assert.deepEqual(results, [true, true, true, true, true]);
      assert.equal(collector.stats().graphqlRequests, 1);
      for (const user of users) assert.deepEqual(user.qualifiedSegments, ['has_email']);
      // Each context holds its own array: sharing the request does not share the result.
      assert.notEqual(users[0]!.qualifiedSegments, users[1]!.qualifiedSegments);

      collector.reset();
      const a = client.createUserContext('user2')!;
      const b = client.createUserContext('user3')!;
      const c = client.createUserContext('user2')!;
      assert.deepEqual(
        await Promise.all([a.fetchQualifiedSegments(), b.fetchQualifiedSegments(), c.fetchQualifiedSegments({ ignoreCache: true })]),
        [true, true, true],
      );
      assert.equal(collector.stats().graphqlRequests, 3);
      assert.deepEqual(a.qualifiedSegments, ['cart_abandoner']);
      assert.deepEqual(b.qualifiedSegments, []);
    });
  });

  test('a shared request that fails fails every waiter, with one log line', async () => {
    await withRig({ collector: { segments, graphqlFaults: { latencyMs: 100, status: 500 } } }, async ({ collector, client, logger }) => {
      const users = [1, 2, 3].map(() => client.createUserContext('user1')!);
      assert.deepEqual(await Promise.all(users.map((user) => user.fetchQualifiedSegments())), [false, false, false]);
      assert.equal(collector.stats().graphqlRequests, 1);
      assert.equal(logger.lines.filter((line) => line.level === 'error').length, 1);
    });
  });

  test('a new datafile with other ODP settings resets the cache; the same settings keep it', async () => {
    const a = await startCollector({ segments: { user1: ['has_email'] } });
    const b = await startCollector({ segments: { user1: ['cart_abandoner'] } });
    const logger = captureLogger();
    const client = createInstance({ sdkKey: 'rts', datafileUrlTemplate: `${a.url}/datafiles/{sdkKey}.json`, datafileUpdateIntervalMs: 30, logger, logLevel: 'debug' });
    try {
      const revisions: Array<string | null> = [];
      client.on('datafileUpdate', ({ revision }) => revisions.push(revision));
      await client.onReady({ timeoutMs: 5000 });
      const user = client.createUserContext('user1')!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['has_email']);

      // Same ODP settings, new revision: still cached.
      a.setDatafile('rts', { ...fixtureDatafile(a.url), revision: 'same-odp' });
      await until(() => revisions.includes('same-odp'), 5000, 'the same-odp datafile');
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.equal(a.stats().graphqlRequests, 1);

      // ODP host moves to b: the cache is reset and b answers.
      a.setDatafile('rts', { ...fixtureDatafile(b.url), revision: 'host-b' });
      await until(() => revisions.includes('host-b'), 5000, 'the host-b datafile');
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['cart_abandoner']);
      assert.equal(b.stats().graphqlRequests, 1);
      assert.match(logger.text(), /debug: \[odp-sdk\] the ODP settings changed: the segments cache was reset/);

      // Back to a: had the cache survived, a's old answer would come from memory, not from a.
      a.setSegments('user1', []);
      a.setDatafile('rts', { ...fixtureDatafile(a.url), revision: 'host-a' });
      await until(() => revisions.includes('host-a'), 5000, 'the host-a datafile');
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, []);
      assert.equal(a.stats().graphqlRequests, 2);

      // A new public key counts as a change too.
      a.setDatafile('rts', { ...fixtureDatafile(a.url, 'other-key'), revision: 'key-2' });
      await until(() => revisions.includes('key-2'), 5000, 'the key-2 datafile');
      assert.equal(await user.fetchQualifiedSegments(), false); // a expects API_KEY: the request was made, and refused
      assert.equal(a.stats().graphqlRequests, 3);
      assert.equal(a.graphql.at(-1)?.headers['x-api-key'], 'other-key');
      assert.ok(!logger.text().includes(API_KEY) && !logger.text().includes('other-key'));
    } finally {
      await client.close({ timeoutMs: 1000 });
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('an answer that arrives after the ODP settings changed is not cached under the new ones', async () => {
    const a = await startCollector({ segments: { user1: ['has_email'] }, graphqlFaults: { latencyMs: 1000 } });
    const b = await startCollector({ segments: { user1: ['cart_abandoner'] } });
    const client = createInstance({ sdkKey: 'race', datafileUrlTemplate: `${a.url}/datafiles/{sdkKey}.json`, datafileUpdateIntervalMs: 20, logger: captureLogger() });
    try {
      const revisions: Array<string | null> = [];
      client.on('datafileUpdate', ({ revision }) => revisions.push(revision));
      await client.onReady({ timeoutMs: 5000 });
      const user = client.createUserContext('user1')!;
      const slow = user.fetchQualifiedSegments();
      let settled = false;
      void slow.then(() => (settled = true));
      await until(() => a.graphql.length === 1, 5000, 'the slow request');
      a.setDatafile('race', { ...fixtureDatafile(b.url), revision: 'host-b' });
      await until(() => revisions.includes('host-b'), 5000, 'the host-b datafile');
      assert.equal(settled, false, 'the answer must arrive after the change for this test to mean anything');
      assert.equal(await slow, true); // the caller still gets the answer it asked for
      assert.deepEqual(user.qualifiedSegments, ['has_email']);
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['cart_abandoner']);
      assert.equal(b.stats().graphqlRequests, 1);
    } finally {
      await client.close({ timeoutMs: 1000 });
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('bad cache options fall back to the defaults, with a log line', async () => {
    const logger = captureLogger();
    const client = createInstance({ datafile: fixtureDatafile('http://127.0.0.1:9'), logger, odp: { segmentsCacheSize: -1, segmentsCacheTimeoutMs: 1.5 } });
    try {
      assert.match(logger.text(), /invalid config: odp\.segmentsCacheSize must be an integer >= 0; using 10000/);
      assert.match(logger.text(), /invalid config: odp\.segmentsCacheTimeoutMs must be an integer >= 0; using 600000/);
    } finally {
      await client.close({ timeoutMs: 0 });
    }
  });
});
