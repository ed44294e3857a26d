import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { API_KEY, readFixture } from '../support/helpers';
import { graphqlBody, withRig } from './setup';

const FIXTURE_SEGMENTS = ['has_email', 'cart_abandoner'];
describe('fetchQualifiedSegments over GraphQL', { timeout: 60_000 }, () => {
  test('the GraphQL request: POST /v3/graphql, headers, and the user and segments as variables', async () => {
    await withRig({ collector: { segments: { user123: ['has_email'] } } }, async ({ collector, client }) => {
      const user = client.createUserContext('user123', { age: 31 })!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.equal(collector.graphql.length, 1);
      const seen = collector.graphql[0]!;
      assert.equal(seen.status, 200);
      assert.equal(seen.headers['x-api-key'], API_KEY);
      assert.match(String(seen.headers['content-type']), /^application\/json/);
      const body = graphqlBody(collector);
      assert.deepEqual(Object.keys(body).sort(), ['query', 'variables']);
      assert.deepEqual(body.variables, { userId: 'user123', audiences: FIXTURE_SEGMENTS });
      assert.match(body.query, /^query\(\$userId: String, \$audiences: \[String\]\) \{customer\(fs_user_id: \$userId\) \{audiences\(subset: \$audiences\) \{edges \{node \{name state\}\}\}\}\}$/);
    });
  });

  test('user input never enters the query text', async () => {
    const evil = 'x") {__schema {types {name}}} customer(fs_user_id: "y';
    await withRig({ collector: { segments: { [evil]: ['cart_abandoner'] } } }, async ({ collector, client }) => {
      const user = client.createUserContext(evil)!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['cart_abandoner']);
      const body = graphqlBody(collector);
      assert.equal(body.variables.userId, evil);
      assert.ok(!body.query.includes('__schema'));
      assert.ok(!body.query.includes('"'));
    });
  });

  test('a visitor id is looked up as vuid', async () => {
    await withRig({ client: { vuid: true } }, async ({ collector, client }) => {
      const vuid = client.getVuid()!;
      collector.setSegments(vuid, ['has_email']);
      const user = client.createUserContext(vuid)!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['has_email']);
      const body = graphqlBody(collector);
      assert.match(body.query, /customer\(vuid: \$userId\)/);
      assert.equal(body.variables.userId, vuid);
    });
  });

  test('only state "qualified" counts; isQualifiedFor reads the last answer', async () => {
    await withRig({ collector: { segments: { user123: ['has_email', 'not_in_the_datafile'] } } }, async ({ client }) => {
      const user = client.createUserContext('user123')!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['has_email']);
      assert.equal(user.isQualifiedFor('has_email'), true);
      assert.equal(user.isQualifiedFor('cart_abandoner'), false);
      assert.equal(user.isQualifiedFor('not_in_the_datafile'), false);
      assert.ok(Object.isFrozen(user.qualifiedSegments));
    });
    // Other states ODP may answer, and a repeated name, straight from the server.
    const answer = {
      data: {
        customer: {
          audiences: {
            edges: [
              { node: { name: 'has_email', state: 'qualified' } },
              { node: { name: 'cart_abandoner', state: 'Qualified' } },
              { node: { name: 'has_email', state: 'qualified' } },
              { node: { name: 'other', state: 'unknown' } },
            ],
          },
        },
      },
    };
    await withRig({ collector: { graphqlFaults: { body: JSON.stringify(answer) } } }, async ({ client }) => {
      const user = client.createUserContext('user123')!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, ['has_email']);
    });
  });

  test('a qualified user in none of the segments gets [] (success)', async () => {
    await withRig({ collector: { segments: { user123: [] } } }, async ({ client }) => {
      const user = client.createUserContext('user123')!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.deepEqual(user.qualifiedSegments, []);
    });
  });

  const INVALID_IDENTIFIER = JSON.stringify({
    errors: [
      {
        message: 'Exception while fetching data (/customer) : java.lang.RuntimeException: could not resolve _fs_user_id = user123',
        locations: [{ line: 1, column: 8 }],
        path: ['customer'],
        extensions: { code: 'INVALID_IDENTIFIER_EXCEPTION', classification: 'DataFetchingException' },
      },
    ],
    data: { customer: null },
  });

  const failures: Array<{ name: string; rig: Parameters<typeof withRig>[0]; user?: string; log: RegExp }> = [
    { name: 'HTTP 500', rig: { collector: { graphqlFaults: { status: 500 } } }, log: /failed: HTTP 500$/ },
    { name: 'HTTP 401 (wrong key)', rig: { collector: { apiKey: 'another-key' } }, log: /failed: HTTP 401$/ },
    {
      name: 'GraphQL errors (unknown user)',
      rig: { collector: { segments: {} } },
      user: 'nobody',
      log: /failed: GraphQL error \(DataFetchingException\): Exception while fetching data \(\/customer\) : java\.lang\.RuntimeException: could not resolve _fs_user_id = nobody$/,
    },
    { name: 'invalid identifier', rig: { collector: { graphqlFaults: { body: INVALID_IDENTIFIER } } }, log: /failed: invalid identifier \(ODP does not know this user\)$/ },
    { name: 'a body that is not JSON', rig: { collector: { graphqlFaults: { body: '<html>bad gateway</html>' } } }, log: /failed: the answer is not valid JSON$/ },
    { name: 'JSON of the wrong shape', rig: { collector: { graphqlFaults: { body: '{"data":{"customer":{}}}' } } }, log: /failed: the answer has no data\.customer\.audiences\.edges$/ },
    {
      name: 'a timeout (the server never answers)',
      rig: { collector: { graphqlFaults: { hang: true } }, client: { odp: { requestTimeoutMs: 200 } } },
      log: /failed: timeout: no answer within 200 ms$/,
    },
    {
      name: 'a timeout (the server answers too late)',
      rig: { collector: { graphqlFaults: { latencyMs: 2000 } }, client: { odp: { requestTimeoutMs: 200 } } },
      log: /failed: timeout: no answer within 200 ms$/,
    },
  ];

  for (const failure of failures) {
    test(`${failure.name}: false, qualifiedSegments null, one clear error line without the key`, async () => {
      await withRig(failure.rig, async ({ collector, client, logger }) => {
        const user = client.createUserContext(failure.user ?? 'user123')!;
        const result = user.fetchQualifiedSegments();
        assert.ok(result instanceof Promise);
        assert.equal(await result, false);
        assert.equal(user.qualifiedSegments, null);
        assert.equal(user.isQualifiedFor('has_email'), false);
        assert.equal(collector.graphql.length, 1);
        const errors = logger.lines.filter((line) => line.level === 'error');
        assert.equal(errors.length, 1, logger.text());
        assert.match(errors[0]!.message, /^\[odp-sdk\] fetching qualified segments for fs_user_id failed: /);
        assert.match(errors[0]!.message, failure.log);
        assert.ok(!logger.text().includes(API_KEY));
        // A failure is not cached: the next fetch asks again.
        assert.equal(await user.fetchQualifiedSegments(), false);
        assert.equal(collector.graphql.length, 2);
      });
    });
  }

  test('a failed fetch after a good one sets qualifiedSegments back to null', async () => {
    await withRig({ collector: { segments: { user123: ['has_email'] } } }, async ({ collector, client }) => {
      const user = client.createUserContext('user123')!;
      assert.equal(await user.fetchQualifiedSegments(), true);
      assert.equal(user.isQualifiedFor('has_email'), true);
      collector.setGraphqlFaults({ status: 503 });
      assert.equal(await user.fetchQualifiedSegments({ ignoreCache: true }), false);
      assert.equal(user.qualifiedSegments, null);
      assert.equal(user.isQualifiedFor('has_email'), false);
    });
  });

  test('a network error (nothing listens) is a failure too', async () => {
    await withRig({}, async ({ collector, client, logger }) => {
      const user = client.createUserContext('user123')!;
      await collector.close(); // closing twice later is harmless
      assert.equal(await user.fetchQualifiedSegments(), false);
      assert.match(logger.text(), /error: \[odp-sdk\] fetching qualified segments for fs_user_id failed: network error: ECONNREFUSED/);
    });
  });

  test('no ODP segments in the datafile: [] without a request', async () => {
    const datafile = JSON.parse(readFixture('real/optimizely-go-sdk-decide-datafile.json')) as Record<string, unknown>;
    await withRig({}, async ({ collector }) => {
      datafile.integrations = [{ key: 'odp', host: collector.url, publicKey: API_KEY }];
      await withRig({ client: { datafile } }, async ({ client }) => {
        const user = client.createUserContext('user123')!;
        assert.equal(await user.fetchQualifiedSegments(), true);
        assert.deepEqual(user.qualifiedSegments, []);
      });
      assert.equal(collector.stats().graphqlRequests, 0);
    });
  });

  test('the real ODP datafile: its three segments are asked about', async () => {
    const datafile = JSON.parse(readFixture('real/optimizely-go-sdk-odp-datafile.json')) as Record<string, unknown>;
    await withRig({ collector: { segments: { user123: ['odp-segment-2'] } } }, async ({ collector }) => {
      datafile.integrations = [{ key: 'odp', host: collector.url, publicKey: API_KEY }];
      await withRig({ client: { datafile } }, async ({ client }) => {
        const user = client.createUserContext('user123')!;
        assert.equal(await user.fetchQualifiedSegments(), true);
        assert.deepEqual(user.qualifiedSegments, ['odp-segment-2']);
      });
      assert.deepEqual(graphqlBody(collector).variables.audiences, ['odp-segment-1', 'odp-segment-2', 'odp-segment-3']);
    });
  });

  test('ODP disabled, or the client closed: false without a request', async () => {
    await withRig({ client: { odp: { disabled: true } } }, async ({ collector, client, logger }) => {
      const user = client.createUserContext('user123')!;
      assert.equal(await user.fetchQualifiedSegments(), false);
      assert.match(logger.text(), /warn: .*failed: odp.disabled is set/);
      assert.equal(collector.stats().graphqlRequests, 0);
    });
    await withRig({}, async ({ collector, client, logger }) => {
      const user = client.createUserContext('user123')!;
      await client.close();
      assert.equal(await user.fetchQualifiedSegments(), false);
      assert.match(logger.text(), /warn: .*failed: client closed/);
      assert.equal(collector.stats().graphqlRequests, 0);
    });
  });

  test('close() during a fetch: it resolves false, and nothing is left running', async () => {
    await withRig({ collector: { graphqlFaults: { hang: true } } }, async ({ collector, client }) => {
      const user = client.createUserContext('user123')!;
      const pending = user.fetchQualifiedSegments();
      await new Promise<void>((resolve) => {
        const check = () => (collector.graphql.length > 0 ? resolve() : setTimeout(check, 5));
        check();
      });
      await client.close();
      assert.equal(await pending, false);
      assert.equal(user.qualifiedSegments, null);
    });
  });

  test('hostile options never make it throw', async () => {
    await withRig({ collector: { segments: { user123: ['has_email'] } } }, async ({ client }) => {
      const user = client.createUserContext('user123')!;
      const hostile = Object.defineProperty({}, 'ignoreCache', { get: () => { throw new Error('boom'); } });
      assert.equal(await user.fetchQualifiedSegments(hostile), false);
      assert.equal(await user.fetchQualifiedSegments('yes' as never), true);
      assert.deepEqual(user.qualifiedSegments, ['has_email']);
    });
  });

  test('the collector records graphql requests and checks its graphql faults', async () => {
    await withRig({}, async ({ collector }) => {
      assert.throws(() => collector.setGraphqlFaults({ nope: true } as never), /unknown graphql fault "nope"/);
      assert.throws(() => collector.setGraphqlFaults({ status: 42 }), /fault status must be an integer from 200 to 599/);
      assert.throws(() => collector.setGraphqlFaults({ body: 1 } as never), /graphql fault body must be a string/);
      collector.setGraphqlFaults({ status: 502, body: 'x' });
      const res = await fetch(`${collector.url}/v3/graphql`, { method: 'POST', body: '{}', headers: { 'x-api-key': API_KEY } });
      assert.equal(res.status, 502);
      assert.equal(await res.text(), 'x');
      assert.equal(collector.graphql.length, 1);
      assert.equal(collector.graphql[0]!.status, 502);
      collector.reset();
      assert.equal(collector.graphql.length, 0);
    });
  });
});
