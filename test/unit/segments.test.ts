import { describe, expect, it } from 'vitest';
import { fetchSegments, parseAnswer } from '../../src/segments/segments-fetcher';
import { identifyIdentifiers, UserContext, userKeyFor } from '../../src/segments/user-context';
import { createSegments } from '../../src/segments/segments-manager';
import { SafeLogger } from '../../src/core/logger';
import { captureLogger, FakeTransport, makeSegmentsManager, ODP, settle } from './harness';

const VUID = `vuid_${'d'.repeat(27)}`;
const audiences = (...names: string[]) => ({
  typedAudiences: names.map((value) => ({ conditions: { type: 'third_party_dimension', name: 'odp.audiences', match: 'qualified', value } })),
});
const answer = (...edges: Array<[string, string]>) =>
  JSON.stringify({ data: { customer: { audiences: { edges: edges.map(([name, state]) => ({ node: { name, state } })) } } } });

describe('fetchSegments', () => {
  it('POSTs a fixed GraphQL query with the user and segments as variables', async () => {
    const transport = new FakeTransport().answer({ status: 200, body: answer(['a', 'qualified'], ['b', 'not_qualified']) });
    const result = await fetchSegments(transport, { odp: ODP, userKey: 'vuid', userValue: VUID, segments: ['a', 'b'], timeoutMs: 77 });
    expect(result).toEqual({ ok: true, segments: ['a'] });
    const { request } = transport.calls[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://odp.test/v3/graphql');
    expect(request.headers).toEqual({ 'content-type': 'application/json', 'x-api-key': 'pk-test-key' });
    expect(request.timeoutMs).toBe(77);
    expect(JSON.parse(request.body!)).toEqual({
      query: 'query($userId: String, $audiences: [String]) {customer(vuid: $userId) {audiences(subset: $audiences) {edges {node {name state}}}}}',
      variables: { userId: VUID, audiences: ['a', 'b'] },
    });
    const byUser = new FakeTransport().answer({ status: 200, body: answer() });
    await fetchSegments(byUser, { odp: ODP, userKey: 'fs_user_id', userValue: 'u', segments: ['a'], timeoutMs: 1 });
    expect(JSON.parse(byUser.calls[0]!.request.body!).query).toBe(
      'query($userId: String, $audiences: [String]) {customer(fs_user_id: $userId) {audiences(subset: $audiences) {edges {node {name state}}}}}',
    );
  });

  it('no answer or a non-2xx: a reason', async () => {
    const request = { odp: ODP, userKey: 'fs_user_id' as const, userValue: 'u', segments: ['a'], timeoutMs: 1 };
    const run = async (a: ConstructorParameters<typeof Object>[0]) => fetchSegments(new FakeTransport().answer(a), request);
    expect(await run({ error: 'timeout', message: 'slow' })).toEqual({ ok: false, reason: 'timeout: slow' });
    expect(await run({ error: 'network', message: 'down' })).toEqual({ ok: false, reason: 'network error: down' });
    expect(await run({ throws: new Error('odd') })).toEqual({ ok: false, reason: 'network error: odd' });
    expect(await run({ throws: 'str' })).toEqual({ ok: false, reason: 'network error: str' });
    expect(await run({ status: 500 })).toEqual({ ok: false, reason: 'HTTP 500' });
    expect(await run({ status: 199 })).toEqual({ ok: false, reason: 'HTTP 199' });
    expect(await run({ status: 300 })).toEqual({ ok: false, reason: 'HTTP 300' });
    expect(await run({ status: 299, body: answer(['a', 'qualified']) })).toEqual({ ok: true, segments: ['a'] });
  });
});

describe('parseAnswer', () => {
  it('qualified names, deduplicated; errors win over data', () => {
    expect(parseAnswer(answer(['a', 'qualified'], ['a', 'qualified'], ['b', 'qualified'], ['c', 'QUALIFIED']))).toEqual({ ok: true, segments: ['a', 'b'] });
    expect(parseAnswer(JSON.stringify({ errors: [{ message: 'm' }], data: JSON.parse(answer(['a', 'qualified'])).data }))).toEqual({
      ok: false,
      reason: 'GraphQL error: m',
    });
    expect(parseAnswer(JSON.stringify({ errors: [], ...JSON.parse(answer(['a', 'qualified'])) }))).toEqual({ ok: true, segments: ['a'] });
  });

  it('malformed answers: a reason each', () => {
    expect(parseAnswer('nope')).toEqual({ ok: false, reason: 'the answer is not valid JSON' });
    expect(parseAnswer('[]')).toEqual({ ok: false, reason: 'the answer is not a JSON object' });
    expect(parseAnswer('{}')).toEqual({ ok: false, reason: 'the answer has no data.customer.audiences.edges' });
    expect(parseAnswer(JSON.stringify({ data: { customer: { audiences: { edges: {} } } } }))).toEqual({ ok: false, reason: 'the answer has no data.customer.audiences.edges' });
    for (const edge of [{}, { node: { name: 'a' } }, { node: { state: 'qualified' } }, { node: { name: 1, state: 'qualified' } }]) {
      expect(parseAnswer(JSON.stringify({ data: { customer: { audiences: { edges: [edge] } } } }))).toEqual({ ok: false, reason: 'an audience edge lacks node.name or node.state' });
    }
  });

  it('GraphQL errors: an unknown user, classification, long messages cut at 200', () => {
    const errors = (error: unknown) => parseAnswer(JSON.stringify({ errors: [error] }));
    const unknown = 'invalid identifier (ODP does not know this user)';
    expect(errors({ extensions: { code: 'INVALID_IDENTIFIER_EXCEPTION' } })).toEqual({ ok: false, reason: unknown });
    expect(errors({ extensions: { classification: 'InvalidIdentifierException' } })).toEqual({ ok: false, reason: unknown });
    expect(errors({ message: 'm', extensions: { classification: 'DataFetchingException' } })).toEqual({ ok: false, reason: 'GraphQL error (DataFetchingException): m' });
    expect(errors({ message: 5 })).toEqual({ ok: false, reason: 'GraphQL error: no message' });
    expect(errors('x')).toEqual({ ok: false, reason: 'GraphQL error: no message' });
    expect(errors({ message: 'y'.repeat(300) })).toEqual({ ok: false, reason: `GraphQL error: ${'y'.repeat(200)}` });
  });
});

describe('SegmentsManager', () => {
  it('asks about the datafile segments, caches the answer per user, and returns copies', async () => {
    const { manager, transport, transportsMade } = makeSegmentsManager();
    expect(transportsMade()).toBe(0); // made on first use
    manager.configure(ODP, audiences('a', 'b'));
    transport.fallback = { status: 200, body: answer(['a', 'qualified']) };
    const first = await manager.fetch('fs_user_id', 'u', {});
    expect(first).toEqual(['a']);
    first!.push('mutated');
    expect(await manager.fetch('fs_user_id', 'u', {})).toEqual(['a']);
    expect(transport.calls).toHaveLength(1);
    expect(JSON.parse(transport.calls[0]!.request.body!).variables).toEqual({ userId: 'u', audiences: ['a', 'b'] });
    await manager.fetch('fs_user_id', 'other', {});
    await manager.fetch('vuid', 'u', {});
    expect(transport.calls).toHaveLength(3);
    expect(transportsMade()).toBe(1);
  });

  it('cache entries expire after cacheTimeoutMs (fake now)', async () => {
    const { manager, transport, time } = makeSegmentsManager({ cacheTimeoutMs: 1_000 });
    manager.configure(ODP, audiences('a'));
    transport.fallback = { status: 200, body: answer() };
    await manager.fetch('fs_user_id', 'u', {});
    time.now += 999;
    await manager.fetch('fs_user_id', 'u', {});
    expect(transport.calls).toHaveLength(1);
    time.now += 1;
    await manager.fetch('fs_user_id', 'u', {});
    expect(transport.calls).toHaveLength(2);
  });

  it('concurrent fetches for one user share a request; ignoreCache neither reads, joins nor writes the cache', async () => {
    const { manager, transport } = makeSegmentsManager();
    manager.configure(ODP, audiences('a'));
    transport.fallback = 'hang';
    const one = manager.fetch('fs_user_id', 'u', {});
    const two = manager.fetch('fs_user_id', 'u', {});
    const own = manager.fetch('fs_user_id', 'u', { ignoreCache: true });
    expect(transport.calls).toHaveLength(2);
    transport.calls[0]!.answer({ status: 200, body: answer(['a', 'qualified']) });
    transport.calls[1]!.answer({ status: 200, body: answer() });
    expect(await one).toEqual(['a']);
    expect(await two).toEqual(['a']);
    expect(await own).toEqual([]);
    expect(await manager.fetch('fs_user_id', 'u', {})).toEqual(['a']); // cached from the shared one, not the ignoreCache one
    transport.fallback = { status: 200, body: answer() };
    await manager.fetch('fs_user_id', 'u', { ignoreCache: true });
    expect(await manager.fetch('fs_user_id', 'u', {})).toEqual(['a']);
    expect(transport.calls).toHaveLength(3);
  });

  it('resetCache empties the cache first and stores the fresh answer', async () => {
    const { manager, transport } = makeSegmentsManager();
    manager.configure(ODP, audiences('a'));
    transport.answer({ status: 200, body: answer(['a', 'qualified']) });
    transport.fallback = { status: 200, body: answer() };
    await manager.fetch('fs_user_id', 'u', {});
    await manager.fetch('fs_user_id', 'v', {});
    expect(await manager.fetch('fs_user_id', 'u', { resetCache: true })).toEqual([]);
    expect(await manager.fetch('fs_user_id', 'u', {})).toEqual([]);
    await manager.fetch('fs_user_id', 'v', {});
    expect(transport.calls).toHaveLength(4); // v was dropped by the reset
  });

  it('failures resolve null, are logged, and are not cached', async () => {
    const { manager, transport, log } = makeSegmentsManager();
    manager.configure(ODP, audiences('a'));
    transport.answer({ status: 500 });
    transport.fallback = { status: 200, body: answer() };
    expect(await manager.fetch('fs_user_id', 'u', {})).toBeNull();
    expect(log.lines).toContainEqual({ level: 'error', message: '[odp-sdk] fetching qualified segments for fs_user_id failed: HTTP 500' });
    expect(await manager.fetch('fs_user_id', 'u', {})).toEqual([]);
    expect(transport.calls).toHaveLength(2);
  });

  it('no segments in the datafile: [] without a request; disabled, not integrated or closed: null with a warning', async () => {
    const empty = makeSegmentsManager();
    empty.manager.configure(ODP, {});
    expect(await empty.manager.fetch('fs_user_id', 'u', {})).toEqual([]);
    expect(empty.transport.calls).toHaveLength(0);

    const disabled = makeSegmentsManager({ disabled: true });
    disabled.manager.configure(ODP, audiences('a'));
    expect(await disabled.manager.fetch('fs_user_id', 'u', {})).toBeNull();
    expect(disabled.log.lines).toContainEqual({ level: 'warn', message: '[odp-sdk] fetching qualified segments for fs_user_id failed: odp.disabled is set' });

    const none = makeSegmentsManager();
    none.manager.configure(null, audiences('a'));
    expect(await none.manager.fetch('vuid', VUID, {})).toBeNull();
    expect(none.log.lines).toContainEqual({ level: 'warn', message: '[odp-sdk] fetching qualified segments for vuid failed: no ODP host and publicKey in the datafile' });

    const closed = makeSegmentsManager();
    closed.manager.configure(ODP, audiences('a'));
    closed.manager.close();
    expect(await closed.manager.fetch('fs_user_id', 'u', {})).toBeNull();
    expect(closed.log.lines).toContainEqual({ level: 'warn', message: '[odp-sdk] fetching qualified segments for fs_user_id failed: client closed' });
    expect(closed.transport.calls).toHaveLength(0);
  });

  it('close() aborts what is in flight (logged at debug, not as an error)', async () => {
    const { manager, transport, log } = makeSegmentsManager();
    manager.configure(ODP, audiences('a'));
    transport.fallback = 'hang';
    const pending = manager.fetch('fs_user_id', 'u', {});
    await settle();
    manager.close();
    expect(transport.closes).toBe(1);
    expect(await pending).toBeNull();
    expect(log.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(log.lines).toContainEqual({ level: 'debug', message: '[odp-sdk] fetching qualified segments for fs_user_id failed: the client was closed (network error: closed)' });
    manager.close(); // twice is harmless
    expect(transport.closes).toBe(1);
  });

  it('new ODP settings reset the cache and forget shared requests; an answer fetched under the old ones is not cached', async () => {
    const { manager, transport, log } = makeSegmentsManager();
    manager.configure(ODP, audiences('a'));
    transport.fallback = { status: 200, body: answer(['a', 'qualified']) };
    await manager.fetch('fs_user_id', 'u', {});
    manager.configure(ODP, audiences('a')); // same settings: cache kept
    await manager.fetch('fs_user_id', 'u', {});
    expect(transport.calls).toHaveLength(1);
    expect(log.text()).not.toMatch(/cache was reset/);

    transport.fallback = 'hang';
    manager.configure({ ...ODP, publicKey: 'other' }, audiences('a'));
    expect(log.lines).toContainEqual({ level: 'debug', message: '[odp-sdk] the ODP settings changed: the segments cache was reset' });
    const old = manager.fetch('fs_user_id', 'u', {});
    expect(transport.calls).toHaveLength(2);
    expect(transport.calls[1]!.request.headers['x-api-key']).toBe('other');
    manager.configure({ ...ODP, host: 'https://moved.test', publicKey: 'other' }, audiences('a'));
    const fresh = manager.fetch('fs_user_id', 'u', {}); // not joined to the old request
    expect(transport.calls).toHaveLength(3);
    transport.calls[1]!.answer({ status: 200, body: answer(['a', 'qualified']) });
    transport.calls[2]!.answer({ status: 200, body: answer() });
    expect(await old).toEqual(['a']);
    expect(await fresh).toEqual([]);
    transport.fallback = { status: 200, body: answer(['x', 'qualified']) };
    expect(await manager.fetch('fs_user_id', 'u', {})).toEqual([]); // the fresh answer was cached, the old one not
  });

  it('the first configure logs no reset; createSegments makes a working manager', async () => {
    const { manager, log } = makeSegmentsManager();
    manager.configure(ODP, audiences('a'));
    expect(log.lines).toEqual([]);
    const transport = new FakeTransport();
    transport.fallback = { status: 200, body: answer(['a', 'qualified']) };
    const service = createSegments({ disabled: false, cacheSize: 1, cacheTimeoutMs: 0, requestTimeoutMs: 1 }, () => transport, new SafeLogger(captureLogger(), 'silent'));
    service.configure(ODP, audiences('a'));
    expect(await service.fetch('fs_user_id', 'u', {})).toEqual(['a']);
  });
});

describe('user context', () => {
  it('userKeyFor: vuid for a visitor id, else fs_user_id; identifyIdentifiers adds the visitor id', () => {
    expect(userKeyFor(VUID)).toBe('vuid');
    expect(userKeyFor('user')).toBe('fs_user_id');
    expect(identifyIdentifiers('user', VUID)).toEqual({ fs_user_id: 'user', vuid: VUID });
    expect(identifyIdentifiers('user', null)).toEqual({ fs_user_id: 'user' });
    expect(identifyIdentifiers(VUID, `vuid_${'e'.repeat(27)}`)).toEqual({ vuid: VUID });
  });

  it('fetchQualifiedSegments: true and the segments; false and null on failure; options passed as booleans', async () => {
    const asked: unknown[] = [];
    let reply: string[] | null = ['s'];
    const user = new UserContext('user', { a: 1 }, { fetchSegments: async (...args) => (asked.push(args), reply) });
    expect(user.qualifiedSegments).toBeNull();
    expect(user.isQualifiedFor('s')).toBe(false);
    expect(await user.fetchQualifiedSegments({ resetCache: true, ignoreCache: 'yes' as never })).toBe(true);
    expect(asked).toEqual([['fs_user_id', 'user', { ignoreCache: false, resetCache: true }]]);
    expect(user.qualifiedSegments).toEqual(['s']);
    expect(Object.isFrozen(user.qualifiedSegments)).toBe(true);
    expect(user.isQualifiedFor('s')).toBe(true);
    expect(user.isQualifiedFor('t')).toBe(false);
    reply = null;
    expect(await user.fetchQualifiedSegments('bad' as never)).toBe(false);
    expect(asked[1]).toEqual(['fs_user_id', 'user', { ignoreCache: false, resetCache: false }]);
    expect(user.qualifiedSegments).toBeNull();
    expect(user.isQualifiedFor('s')).toBe(false);
  });

  it("fetchQualifiedSegments takes Optimizely's array of option names too", async () => {
    const asked: unknown[] = [];
    const user = new UserContext('user', {}, { fetchSegments: async (...args) => (asked.push(args[2]), ['s']) });
    await user.fetchQualifiedSegments(['IGNORE_CACHE']);
    await user.fetchQualifiedSegments(['RESET_CACHE', 'IGNORE_CACHE']);
    await user.fetchQualifiedSegments([]);
    expect(asked).toEqual([
      { ignoreCache: true, resetCache: false },
      { ignoreCache: true, resetCache: true },
      { ignoreCache: false, resetCache: false },
    ]);
  });

  it('a hostile options object: false, never a rejection; attributes are copies', async () => {
    const user = new UserContext('user', { a: 1 }, { fetchSegments: async () => ['s'] });
    await user.fetchQualifiedSegments();
    const hostile = {
      get ignoreCache(): boolean {
        throw new Error('no');
      },
    };
    expect(await user.fetchQualifiedSegments(hostile)).toBe(false);
    expect(user.qualifiedSegments).toBeNull();
    const attributes = user.attributes;
    attributes.a = 2;
    expect(user.attributes).toEqual({ a: 1 });
  });
});
