import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS } from '../../src/dispatcher/dispatcher';
import { ids, makeDispatcher, ODP, settle, START, wireEvent } from './harness';

/** Resolves-or-not probe for a promise, without waiting on it. */
function probe(promise: Promise<unknown>): { done: boolean } {
  const state = { done: false };
  void promise.then(() => (state.done = true));
  return state;
}

describe('dispatcher: delivery', () => {
  it('POSTs the batch to {host}/v3/events with the key, the JSON body and the timeout; counts each step', async () => {
    const h = makeDispatcher({ requestTimeoutMs: 1_234 });
    h.transport.fallback = 'hang';
    const events = h.send(3);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 3, queued: 3, inFlight: 0, requests: 0 });
    expect(h.transport.calls).toHaveLength(0); // never inside dispatch()
    await settle();
    expect(h.transport.calls).toHaveLength(1);
    const { request } = h.transport.calls[0]!;
    expect(request).toEqual({
      method: 'POST',
      url: 'https://odp.test/v3/events',
      headers: { 'content-type': 'application/json', 'x-api-key': 'pk-test-key' },
      body: JSON.stringify(events),
      timeoutMs: 1_234,
      keepalive: false,
    });
    expect(h.stats.snapshot()).toMatchObject({ queued: 0, inFlight: 3, requests: 1, retries: 0 });
    const flushed = probe(h.dispatcher.flush());
    await settle();
    expect(flushed.done).toBe(false);
    h.transport.calls[0]!.answer({ status: 202 });
    await settle();
    expect(flushed.done).toBe(true);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 3, delivered: 3, queued: 0, inFlight: 0, dropped: 0 });
    expect(h.delivered).toEqual([{ count: 3, status: 202 }]);
    expect(h.log.lines).toContainEqual({ level: 'debug', message: '[odp-sdk] delivered 3 events (202)' });
  });

  it('flush() with nothing outstanding resolves at once', async () => {
    const h = makeDispatcher();
    const flushed = probe(h.dispatcher.flush());
    await Promise.resolve();
    await Promise.resolve();
    expect(flushed.done).toBe(true);
  });

  it('each batch goes to its own ODP host with its own key', async () => {
    const h = makeDispatcher();
    h.send(1);
    h.send(1, { host: 'https://other.test', publicKey: 'k2' });
    await settle();
    expect(h.transport.calls.map((c) => [c.request.url, c.request.headers['x-api-key']])).toEqual([
      ['https://odp.test/v3/events', 'pk-test-key'],
      ['https://other.test/v3/events', 'k2'],
    ]);
  });

  it('one slot: one request at a time, in order; two slots: a batch goes alone while another slot is free, the last free slot takes what waits', async () => {
    const one = makeDispatcher({}, { concurrency: 1 });
    one.transport.fallback = 'hang';
    const a = one.send(1);
    await settle();
    const b = one.send(1);
    const c = one.send(1);
    await settle();
    expect(one.transport.calls).toHaveLength(1);
    one.transport.calls[0]!.answer({ status: 200 });
    await settle();
    expect(one.transport.bodies().map(ids)).toEqual([ids(a), [...ids(b), ...ids(c)]]);

    const two = makeDispatcher({}, { concurrency: 2 });
    two.send(1); // a first 2xx: batches merge only once the server answered well
    await settle();
    two.transport.fallback = 'hang';
    const [x, y, z] = [two.send(1), two.send(1), two.send(1)];
    await settle();
    expect(two.transport.bodies().slice(1).map(ids)).toEqual([ids(x), [...ids(y), ...ids(z)]]);
    expect(two.stats.snapshot()).toMatchObject({ inFlight: 3, queued: 0, requests: 3 });
  });

  it('the observer sees each batch added once, with its body as sent and ids assigned; removed once delivered', async () => {
    const h = makeDispatcher({}, { observe: true });
    h.transport.fallback = 'hang';
    const events = [wireEvent(1), wireEvent(2)];
    events[1]!.data.idempotence_id = '';
    h.send(events);
    expect(h.added).toHaveLength(1);
    expect(ids(h.added[0]!.events as never)).toEqual(['id-1', 'new-0']);
    expect(h.added[0]!.body).toBe(JSON.stringify(events));
    expect(h.added[0]!.odp).toEqual(ODP);
    await settle();
    expect(h.transport.calls[0]!.request.body).toBe(h.added[0]!.body);
    expect(h.removed).toEqual([]);
    h.transport.calls[0]!.answer({ status: 200 });
    await settle();
    expect(h.removed).toEqual([h.added[0]]);
    expect(h.added[0]!.body).toBe(''); // let go once done
  });

  it('without an observer, ids are assigned when the batch is first sent, and kept across retries', async () => {
    const h = makeDispatcher();
    h.transport.answer({ status: 500 });
    const events = [wireEvent(1), wireEvent(2)];
    events[0]!.data.idempotence_id = '';
    h.send(events);
    expect(events[0]!.data.idempotence_id).toBe('');
    await settle();
    expect(events[0]!.data.idempotence_id).toBe('new-0');
    await h.clock.advance(100);
    expect(h.transport.bodies().map(ids)).toEqual([['new-0', 'id-2'], ['new-0', 'id-2']]);
  });

  it('the compression option reaches the request', async () => {
    const h = makeDispatcher({ compression: 'gzip' });
    h.send(1);
    await settle();
    expect(h.transport.calls[0]!.request.compression).toBe('gzip');
  });

  it('batches have distinct ids, counting up', () => {
    const h = makeDispatcher({}, { observe: true });
    h.dispatcher.hold("test", true);
    h.send(1);
    h.send(1);
    expect(h.added.map((b) => b.id)).toEqual([1, 2]);
  });
});

describe('dispatcher: retries', () => {
  it('a 500 is retried with backoff, holding the whole lane; the same ids and the identical body each time', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 1_000 });
    h.transport.answer({ status: 500 }, { status: 503 });
    const a = h.send(2);
    await settle();
    expect(h.clock.delays).toEqual([100]);
    expect(h.stats.snapshot()).toMatchObject({ queued: 2, inFlight: 0, requests: 1, retries: 0, delivered: 0 });
    expect(h.log.lines).toContainEqual({ level: 'info', message: '[odp-sdk] sending 2 events failed (status 500); retry 1 in 100 ms' });
    const b = h.send(1); // a new batch waits behind the backoff: no request while the server is failing
    await settle();
    expect(h.transport.calls).toHaveLength(1);
    await h.clock.advance(99);
    expect(h.transport.calls).toHaveLength(1);
    await h.clock.advance(1);
    expect(h.transport.calls).toHaveLength(2); // the retry, which fails again (503)
    expect(h.clock.delays).toEqual([100, 200]);
    expect(h.transport.calls).toHaveLength(2);
    await h.clock.advance(200);
    expect(h.transport.bodies().map(ids)).toEqual([ids(a), ids(a), ids(a), ids(b)]);
    const bodies = h.transport.calls.slice(0, 3).map((c) => c.request.body);
    expect(new Set(bodies).size).toBe(1);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 3, delivered: 3, queued: 0, inFlight: 0, requests: 4, retries: 2 });
    expect(h.delivered).toEqual([
      { count: 2, status: 202 },
      { count: 1, status: 202 },
    ]);
  });

  it('backoff doubles with consecutive failures, is capped at maxBackoffMs, and starts over after a success', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 1_000, maxRetries: 10 });
    h.transport.answer(...Array.from({ length: 6 }, () => ({ status: 500 })));
    h.send(1);
    while (h.stats.delivered === 0) await h.clock.runNext();
    expect(h.clock.delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    h.transport.answer({ status: 502 });
    h.send(1);
    await settle();
    expect(h.clock.delays.at(-1)).toBe(100);
  });

  it('jitter: the delay lies between half the ceiling and the ceiling', async () => {
    const h = makeDispatcher({ initialBackoffMs: 400 }, { random: 0 });
    h.transport.answer({ status: 500 });
    h.send(1);
    await settle();
    expect(h.clock.delays).toEqual([200]);
  });

  it('a retry jumps ahead of batches queued meanwhile', async () => {
    const h = makeDispatcher({}, { concurrency: 1 });
    h.transport.answer({ status: 500 });
    const a = h.send(1);
    await settle();
    const b = h.send(1);
    const c = h.send(1);
    await h.clock.advance(100);
    // The retry goes first, alone and as it was; the batches cut meanwhile then share one request.
    expect(h.transport.bodies().map(ids)).toEqual([ids(a), ids(a), [...ids(b), ...ids(c)]]);
  });

  it.each([408, 425, 429, 500, 502, 503, 504])('%i is retried', async (status) => {
    const h = makeDispatcher();
    h.transport.answer({ status });
    h.send(2);
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ queued: 2, delivered: 0 });
    await h.clock.advance(100);
    expect(h.transport.calls).toHaveLength(2);
    expect(h.stats.snapshot()).toMatchObject({ delivered: 2, retries: 1, dropped: 0 });
  });

  it.each(['network', 'timeout', 'aborted'] as const)('a %s error is retried', async (kind) => {
    const h = makeDispatcher();
    h.transport.answer({ error: kind, message: 'went wrong' });
    h.send(1);
    await settle();
    expect(h.log.lines).toContainEqual({ level: 'info', message: `[odp-sdk] sending 1 events failed (${kind} error: went wrong); retry 1 in 100 ms` });
    await h.clock.advance(100);
    expect(h.stats.snapshot()).toMatchObject({ delivered: 1, retries: 1 });
  });

  it('a transport that throws something else counts as a network error', async () => {
    const h = makeDispatcher();
    h.transport.answer({ throws: new Error('boom') });
    h.send(1);
    await settle();
    expect(h.log.lines).toContainEqual({ level: 'info', message: '[odp-sdk] sending 1 events failed (network error: Error: boom); retry 1 in 100 ms' });
    await h.clock.advance(100);
    expect(h.stats.delivered).toBe(1);
  });

  it('Retry-After in seconds: waits that long when it exceeds the backoff', async () => {
    const h = makeDispatcher();
    h.transport.answer({ status: 429, headers: { 'retry-after': '3' } });
    h.send(1);
    await settle();
    expect(h.clock.delays).toEqual([3_000]);
    await h.clock.advance(2_999);
    expect(h.transport.calls).toHaveLength(1);
    await h.clock.advance(1);
    expect(h.transport.calls).toHaveLength(2);
  });

  it('Retry-After as an HTTP date: waits until then', async () => {
    const h = makeDispatcher();
    h.transport.answer({ status: 503, headers: { 'retry-after': new Date(START + 5_000).toUTCString() } });
    h.send(1);
    await settle();
    expect(h.clock.delays).toEqual([5_000]);
  });

  it('a Retry-After shorter than the backoff does not shorten it', async () => {
    const h = makeDispatcher({ initialBackoffMs: 800 });
    h.transport.answer({ status: 503, headers: { 'retry-after': '0' } });
    h.send(1);
    await settle();
    expect(h.clock.delays).toEqual([800]);
  });

  it('maxRetries: after maxRetries + 1 attempts the batch is dropped as retriesExhausted', async () => {
    const h = makeDispatcher({ maxRetries: 2 });
    h.transport.fallback = { status: 500 };
    h.send(2);
    await settle();
    while (await h.clock.runNext());
    expect(h.transport.calls).toHaveLength(3);
    expect(h.clock.delays).toEqual([100, 200]);
    expect(h.dropped).toEqual([
      { reason: 'retriesExhausted', count: 2, status: 500, message: 'gave up on 2 events after 3 attempts (status 500)' },
    ]);
    expect(h.log.lines).toContainEqual({ level: 'error', message: '[odp-sdk] gave up on 2 events after 3 attempts (status 500)' });
    expect(h.stats.snapshot()).toMatchObject({
      accepted: 2,
      delivered: 0,
      dropped: 2,
      queued: 0,
      inFlight: 0,
      requests: 3,
      retries: 2,
      droppedByReason: { retriesExhausted: 2, rejectedByServer: 0, tooLarge: 0, closed: 0 },
    });
    await h.dispatcher.flush();
  });

  it('maxRetries 0: one attempt; a network failure has no status', async () => {
    const h = makeDispatcher({ maxRetries: 0 });
    h.transport.answer({ error: 'timeout', message: 'slow' });
    h.send(1);
    await settle();
    expect(h.transport.calls).toHaveLength(1);
    expect(h.dropped).toEqual([{ reason: 'retriesExhausted', count: 1, status: undefined, message: 'gave up on 1 events after 1 attempts (timeout error: slow)' }]);
  });
});

describe('dispatcher: answers that end a batch', () => {
  it.each([400, 401, 403, 404, 422, 301, 100])('%i: dropped as rejectedByServer, not retried', async (status) => {
    const h = makeDispatcher();
    h.transport.answer({ status, body: 'bad' });
    h.send(2);
    await settle();
    await h.clock.advance(10_000);
    expect(h.transport.calls).toHaveLength(1);
    expect(h.dropped).toEqual([{ reason: 'rejectedByServer', count: 2, status, message: `ODP answered ${status} to 2 events: bad` }]);
    expect(h.stats.snapshot()).toMatchObject({ dropped: 2, inFlight: 0, queued: 0, droppedByReason: { rejectedByServer: 2 } });
  });

  it('the log gets the first 200 characters of the answer', async () => {
    const h = makeDispatcher();
    h.transport.answer({ status: 400, body: 'x'.repeat(200) + 'TAIL' });
    h.send(1);
    await settle();
    expect(h.dropped[0]!.message).toBe(`ODP answered 400 to 1 events: ${'x'.repeat(200)}`);
    expect(h.log.lines).toContainEqual({ level: 'error', message: `[odp-sdk] ${h.dropped[0]!.message}` });
  });

  it('a rejection does not reset the lane: the next batch goes out', async () => {
    const h = makeDispatcher();
    h.transport.answer({ status: 400 });
    h.send(1);
    await settle();
    const b = h.send(1);
    await settle();
    expect(h.transport.bodies().at(-1)!.map((e) => e.data.idempotence_id)).toEqual(ids(b));
    expect(h.stats.delivered).toBe(1);
  });

  it('413: the batch is halved, first half first, order kept, down to single events; a single event still too large is dropped as tooLarge', async () => {
    const h = makeDispatcher();
    const events = h.send(5);
    h.transport.answer({ status: 413 }, { status: 413 }, { status: 202 }, { status: 413 });
    await Promise.resolve();
    await Promise.resolve();
    const other = h.send(1); // cut once the first request went: the halves go before it
    await settle();
    const [e0, e1, e2, e3, e4] = ids(events);
    expect(h.transport.bodies().map(ids)).toEqual([[e0, e1, e2, e3, e4], [e0, e1, e2], [e0, e1], [e2], [e3, e4], ids(other)]);
    expect(h.dropped).toEqual([{ reason: 'tooLarge', count: 1, status: 413, message: 'ODP answered 413 to one event: too large' }]);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 6, delivered: 5, dropped: 1, queued: 0, inFlight: 0, requests: 6, retries: 0 });
    expect(h.stats.snapshot().droppedByReason.tooLarge).toBe(1);
    expect(h.clock.pending).toBe(0); // a split is not a failure: no backoff
  });

  it('413: flush() waits for both halves', async () => {
    const h = makeDispatcher();
    h.transport.answer({ status: 413 }, { status: 202 }, 'hang');
    h.send(2);
    const flushed = probe(h.dispatcher.flush()); // asked before the split: it waits on the batch, then on its halves
    await settle();
    expect(h.transport.calls).toHaveLength(3);
    expect(flushed.done).toBe(false);
    h.transport.calls[2]!.answer({ status: 200 });
    await settle();
    expect(flushed.done).toBe(true);
  });

  it('413 counts the split batch back as queued until its halves go', async () => {
    const h = makeDispatcher();
    h.transport.answer({ status: 413 }, 'hang');
    h.send(3);
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ queued: 1, inFlight: 2, requests: 2 });
  });
});

describe('dispatcher: close()', () => {
  it('with nothing outstanding: resolves at once, closes the transport, leaves no timer', async () => {
    const h = makeDispatcher();
    await h.dispatcher.close(5_000);
    expect(h.transport.closes).toBe(1);
    expect(h.clock.pending).toBe(0);
  });

  it('sends what is queued and resolves once it is delivered, well before the deadline', async () => {
    const h = makeDispatcher();
    h.send(2);
    await h.dispatcher.close(5_000);
    expect(h.stats.delivered).toBe(2);
    expect(h.clock.pending).toBe(0);
  });

  it('a waiting retry goes at once', async () => {
    const h = makeDispatcher({ initialBackoffMs: 10_000, maxBackoffMs: 10_000 });
    h.transport.answer({ status: 500 });
    h.send(1);
    await settle();
    expect(h.clock.pending).toBe(1);
    const closed = probe(h.dispatcher.close(60_000));
    await settle();
    expect(closed.done).toBe(true);
    expect(h.transport.calls).toHaveLength(2);
    expect(h.stats.snapshot()).toMatchObject({ delivered: 1, retries: 1 });
    expect(h.clock.pending).toBe(0);
  });

  it('at the deadline: what is in flight is aborted and what waits is dropped, all as closed', async () => {
    const h = makeDispatcher({}, { concurrency: 1 });
    h.transport.fallback = 'hang';
    h.send(2);
    await settle();
    h.send(3);
    await settle();
    const closed = probe(h.dispatcher.close(1_000));
    await h.clock.advance(999);
    expect(closed.done).toBe(false);
    await h.clock.advance(1);
    expect(closed.done).toBe(true);
    expect(h.transport.calls).toHaveLength(1); // the queued batch never went
    expect(h.dropped.map((d) => [d.reason, d.count])).toEqual([
      ['closed', 3],
      ['closed', 2],
    ]);
    expect(h.dropped[0]!.message).toBe("3 events not delivered by close()'s deadline");
    expect(h.dropped[1]!.message).toBe("2 events not delivered by close()'s deadline (aborted error: closed)");
    expect(h.stats.snapshot()).toMatchObject({ accepted: 5, dropped: 5, queued: 0, inFlight: 0, droppedByReason: { closed: 5 } });
    expect(h.transport.closes).toBe(2);
  });

  it('a retry waiting at the deadline is dropped as closed and its timer cancelled', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 100, maxRetries: 100 });
    h.transport.fallback = { status: 503, headers: { 'retry-after': '60' } };
    h.send(1);
    const closed = probe(h.dispatcher.close(500));
    await h.clock.advance(500);
    expect(closed.done).toBe(true);
    expect(h.dropped.map((d) => d.reason)).toEqual(['closed']);
    expect(h.clock.pending).toBe(0);
    expect(h.stats.snapshot()).toMatchObject({ queued: 0, inFlight: 0, dropped: 1 });
  });

  it('retries are pulled in towards the deadline: halfway to it, never closer together than 50 ms', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 10_000, maxRetries: 100 });
    h.transport.fallback = { status: 500 };
    h.send(1);
    const closed = probe(h.dispatcher.close(1_000));
    await h.clock.advance(1_000);
    expect(closed.done).toBe(true);
    // The deadline timer, then the retries: 100, 200, 400 fit; then half the time left (150, 75), then the 50 ms floor.
    expect(h.clock.delays).toEqual([1_000, 100, 200, 400, 150, 75, 50, 50]);
    expect(h.dropped.map((d) => [d.reason, d.count])).toEqual([['closed', 1]]);
  });

  it('a retry due exactly at the deadline is not pulled in', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 10_000 });
    h.transport.answer({ status: 500 });
    h.send(1);
    void h.dispatcher.close(100);
    await settle();
    expect(h.clock.delays).toEqual([100, 100]);
  });

  it('the floor is initialBackoffMs when that is under 50 ms', async () => {
    const h = makeDispatcher({ initialBackoffMs: 10, maxBackoffMs: 10_000, maxRetries: 100 });
    h.transport.fallback = { status: 500 };
    h.send(1);
    void h.dispatcher.close(100);
    await h.clock.advance(100);
    expect(h.clock.delays).toEqual([100, 10, 20, 40, 15, 10, 10]);
  });

  it('a pulled-in retry still honours Retry-After', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 10_000, maxRetries: 100 });
    h.transport.answer({ status: 500 }, { status: 429, headers: { 'retry-after': '0.4' } });
    h.send(1);
    void h.dispatcher.close(500);
    await h.clock.advance(500);
    // At 100 ms: Retry-After 400 > the 400 left; halfway would be 200, but 400 it is.
    expect(h.clock.delays).toEqual([500, 100, 400]);
  });

  it('a failure after the deadline passed is dropped as closed, not retried', async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    h.send(1);
    await settle();
    void h.dispatcher.close(0);
    await h.clock.advance(0);
    expect(h.dropped.map((d) => d.reason)).toEqual(['closed']);
    expect(h.transport.calls).toHaveLength(1);
  });
});

describe('dispatcher: holds, keep-alive sends and hand-off', () => {
  // Events of one size (ids of equal length), so that budgets can be set in whole events.
  const same = (from: number, n: number) => Array.from({ length: n }, (_, i) => wireEvent(from + i));
  const size = JSON.stringify(same(1_000, 1)).length;

  it('with a keep-alive budget, a body that fits goes as a keep-alive request; larger ones go plain', async () => {
    const h = makeDispatcher({ keepaliveBytes: size });
    h.send(same(1_000, 1));
    await settle();
    h.send(same(1_001, 2));
    await settle();
    expect(h.transport.calls.map((c) => c.request.keepalive)).toEqual([true, false]);
    const zero = makeDispatcher({ keepaliveBytes: 0 });
    zero.send(same(1_000, 1));
    await settle();
    expect(zero.transport.calls[0]!.request.keepalive).toBe(false);
  });

  it('keep-alive bytes in flight count against the budget until they end; a plain request frees none', async () => {
    const h = makeDispatcher({ keepaliveBytes: size * 2 - 1 }, { concurrency: 3 });
    h.transport.fallback = 'hang';
    h.send(same(1_000, 3)); // too large: plain
    h.send(same(1_003, 1));
    h.send(same(1_004, 1));
    await settle();
    expect(h.transport.calls.map((c) => c.request.keepalive)).toEqual([false, true, false]);
    h.transport.calls[0]!.answer({ status: 200 });
    h.transport.calls[2]!.answer({ status: 200 });
    await settle();
    h.send(same(1_005, 1));
    await settle();
    expect(h.transport.calls[3]!.request.keepalive).toBe(false); // call 1 still holds its bytes
    h.transport.calls[1]!.answer({ status: 200 });
    h.transport.calls[3]!.answer({ status: 200 });
    await settle();
    h.send(same(1_006, 1));
    await settle();
    expect(h.transport.calls[4]!.request.keepalive).toBe(true);
  });

  it('hold(): no request starts while any hold is on; ending the last one sends what waits', async () => {
    const h = makeDispatcher();
    h.dispatcher.hold('offline', true);
    h.dispatcher.hold('left', true);
    h.send(1);
    await settle();
    expect(h.transport.calls).toHaveLength(0);
    h.dispatcher.hold('offline', false);
    await settle();
    expect(h.transport.calls).toHaveLength(0);
    h.dispatcher.hold('left', false);
    await settle();
    expect(h.transport.calls).toHaveLength(1);
  });

  it('ending a hold while a retry waits does not start the lane before the retry', async () => {
    const h = makeDispatcher();
    h.transport.answer({ status: 500 });
    const a = h.send(1);
    await settle();
    h.dispatcher.hold('x', true);
    const b = h.send(1);
    h.dispatcher.hold('x', false);
    await settle();
    expect(h.transport.calls).toHaveLength(1);
    await h.clock.advance(100);
    expect(h.transport.bodies().map(ids)).toEqual([ids(a), ids(a), ids(b)]);
  });

  it('sendNow(): queued batches go at once as keep-alive, even while held; cut to the budget, the rest keeps its place', async () => {
    const h = makeDispatcher({ keepaliveBytes: 1 + 2 * (size - 1) });
    h.transport.fallback = 'hang';
    h.dispatcher.hold('left', true);
    const a = h.send(same(1_000, 3));
    const b = h.send(same(1_100, 1));
    h.dispatcher.sendNow();
    await settle();
    expect(h.transport.bodies().map(ids)).toEqual([ids(a.slice(0, 2))]);
    expect(h.transport.calls[0]!.request.keepalive).toBe(true);
    expect(h.stats.snapshot()).toMatchObject({ inFlight: 2, queued: 2 });
    h.transport.calls[0]!.answer({ status: 200 });
    h.transport.fallback = { status: 200 };
    h.dispatcher.hold('left', false);
    await settle();
    expect(h.transport.bodies().map(ids)).toEqual([ids(a.slice(0, 2)), ids(a.slice(2)), ids(b)]);
  });

  it('sendNow(): the budget is bytes of the JSON array, exactly full fits; nothing fits: nothing goes', async () => {
    const one = JSON.stringify(same(2_000, 1)[0]).length;
    for (const [budget, expected] of [
      [1 + 2 * (one + 1), [2]],
      [3 * (one + 1), [2]],
      [1 + 3 * (one + 1), [3]],
      [one + 1, []],
    ] as const) {
      const h = makeDispatcher({ keepaliveBytes: budget });
      h.transport.fallback = 'hang';
      h.dispatcher.hold("test", true);
      h.send(same(2_000, 4));
      h.send(same(2_010, 1));
      h.dispatcher.sendNow();
      await settle();
      expect(h.transport.bodies().map((body) => body.length), `budget ${budget}`).toEqual(expected);
    }
  });

  it('sendNow(): a batch that does not fit stops it: nothing queued later jumps ahead', async () => {
    const h = makeDispatcher({ keepaliveBytes: size + 10 });
    h.transport.fallback = 'hang';
    h.dispatcher.hold("test", true);
    h.send([wireEvent(1, { action: 'x'.repeat(200) })]);
    h.send(same(1_000, 1));
    h.dispatcher.sendNow();
    await settle();
    expect(h.transport.calls).toHaveLength(0);
  });

  it('sendNow(): without a budget, or inside a backoff or Retry-After, nothing is sent', async () => {
    const none = makeDispatcher({ keepaliveBytes: 0 });
    none.dispatcher.hold("test", true);
    none.send(1);
    none.dispatcher.sendNow();
    await settle();
    expect(none.transport.calls).toHaveLength(0);

    const h = makeDispatcher({ keepaliveBytes: 10_000 });
    h.transport.answer({ status: 503, headers: { 'retry-after': '10' } });
    h.send(1);
    await settle();
    h.send(1);
    expect(h.dispatcher.notBefore).toBe(START + 10_000);
    h.dispatcher.sendNow();
    await settle();
    expect(h.transport.calls).toHaveLength(1);
    await h.clock.advance(10_000);
    expect(h.transport.calls).toHaveLength(3);
  });

  it('sendNow(): a batch it sent is not sent again when its place in the lane comes; in-flight ones are left alone', async () => {
    const h = makeDispatcher({ keepaliveBytes: 10_000 });
    h.transport.fallback = 'hang';
    h.send(1);
    await settle();
    h.dispatcher.sendNow();
    h.send(1);
    h.dispatcher.sendNow();
    await settle();
    expect(h.transport.calls).toHaveLength(2);
    h.transport.calls[0]!.answer({ status: 200 });
    h.transport.calls[1]!.answer({ status: 200 });
    await settle();
    expect(h.transport.calls).toHaveLength(2);
    expect(h.stats.delivered).toBe(2);
  });

  it('handOff(): a keep-alive request that fails afterwards leaves its events unconfirmed, not retried', async () => {
    const h = makeDispatcher({ keepaliveBytes: 10_000 }, { observe: true });
    h.transport.fallback = 'hang';
    h.send(2);
    await settle();
    const flushed = probe(h.dispatcher.flush());
    h.dispatcher.handOff();
    h.transport.calls[0]!.answer({ error: 'network', message: 'page gone' });
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ delivered: 0, inFlight: 0, queued: 0, unconfirmed: 2, retries: 0, pending: 0 });
    expect(h.removed).toEqual([]); // still journaled
    expect(flushed.done).toBe(true);
    expect(h.clock.pending).toBe(0);
    expect(h.log.text()).toContain('2 events handed over as the page went');
  });

  it('handOff(): a plain request, or an HTTP answer, is handled as usual', async () => {
    const plain = makeDispatcher({ keepaliveBytes: 0 });
    plain.transport.answer({ error: 'network' });
    plain.dispatcher.handOff();
    plain.send(1);
    await settle();
    expect(plain.stats.snapshot()).toMatchObject({ unconfirmed: 0, queued: 1 });

    const answered = makeDispatcher({ keepaliveBytes: 10_000 });
    answered.transport.fallback = 'hang';
    answered.send(1);
    await settle();
    answered.dispatcher.handOff();
    answered.transport.calls[0]!.answer({ status: 500 });
    await settle();
    expect(answered.stats.snapshot()).toMatchObject({ unconfirmed: 0, queued: 1 });
    expect(answered.clock.pending).toBe(1);
  });

  it('handOff(): a keep-alive request started after the hand-off (sendNow at pagehide) that fails is unconfirmed too, until the host is back', async () => {
    const h = makeDispatcher({ keepaliveBytes: 10_000 }, { observe: true });
    h.dispatcher.handOff();
    h.transport.answer({ error: 'network' });
    h.send(1);
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ unconfirmed: 1, queued: 0, retries: 0 });
    expect(h.removed).toEqual([]); // still journaled
    h.dispatcher.requeueUnconfirmed(); // the host is back (bfcache): failures are failures again
    h.transport.answer({ error: 'network' });
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ unconfirmed: 0, queued: 1 });
    expect(h.clock.pending).toBe(1); // a retry waits
  });

  it('requeueUnconfirmed(): unconfirmed batches go again with their ids, ahead of what is queued', async () => {
    const h = makeDispatcher({ keepaliveBytes: 10_000 }, { observe: true });
    h.transport.answer('hang');
    const a = h.send(2);
    await settle();
    h.dispatcher.handOff();
    h.dispatcher.hold('left', true);
    h.transport.calls[0]!.answer({ error: 'network' });
    const b = h.send(1);
    await settle();
    h.dispatcher.requeueUnconfirmed();
    expect(h.stats.snapshot()).toMatchObject({ unconfirmed: 0, queued: 3 });
    h.dispatcher.requeueUnconfirmed(); // nothing left to requeue
    expect(h.stats.snapshot()).toMatchObject({ queued: 3 });
    h.dispatcher.hold('left', false);
    await settle();
    expect(h.transport.bodies().map(ids)).toEqual([ids(a), ids(a), ids(b)]);
    expect(h.stats.snapshot()).toMatchObject({ delivered: 3, unconfirmed: 0 });
    expect(h.removed).toHaveLength(2);
  });

  it('discard(): drops everything undelivered (queued, waiting, in flight, unconfirmed) quietly, and the lane goes on', async () => {
    const h = makeDispatcher({ keepaliveBytes: 10_000 }, { concurrency: 3, observe: true });
    h.transport.answer('hang', 'hang', { status: 500 });
    h.send(1); // in flight, becomes unconfirmed
    h.send(3); // in flight (hangs)
    h.send(2); // fails: waits
    await settle();
    h.dispatcher.handOff();
    h.transport.calls[0]!.answer({ error: 'network' });
    await settle();
    h.dispatcher.hold('x', true);
    h.send(4); // queued
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ unconfirmed: 1, queued: 6, inFlight: 3 });
    const flushed = probe(h.dispatcher.flush());
    expect(h.dispatcher.discard('optedOut')).toBe(10);
    await settle();
    expect(flushed.done).toBe(true);
    expect(h.stats.snapshot()).toMatchObject({ unconfirmed: 0, queued: 0, inFlight: 0, dropped: 10 });
    expect(h.stats.droppedBy.optedOut).toBe(10);
    expect(h.dropped.map((d) => d.count).sort()).toEqual([1, 2, 3, 4]);
    expect(new Set(h.dropped.map((d) => d.reason))).toEqual(new Set(['optedOut']));
    expect(h.log.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(h.clock.pending).toBe(0);
    expect(h.removed).toHaveLength(4);
    h.transport.calls[1]!.answer({ status: 200 }); // the in-flight answer is ignored
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ inFlight: 0, dropped: 10, requests: 3 });
    h.dispatcher.hold('x', false); // the lane starts: discard() ended the wait of the batch that was waiting
    h.send(1);
    await settle();
    expect(h.stats.delivered).toBe(1);
  });

  it('expire(): drops one batch wherever it is (waiting, queued, in flight), settles its promise, leaves the others; the lane goes on', async () => {
    const h = makeDispatcher({}, { concurrency: 1 });
    h.transport.answer({ status: 503 });
    const waiting = h.send(2); // fails: waits for its retry
    await settle();
    const queued = h.send(3); // behind the wait
    const other = h.send(1);
    expect(h.stats.snapshot()).toMatchObject({ queued: 6, inFlight: 0 });
    expect(h.dispatcher.expire(queued, 'waitUntilTimeout', 'late')).toBe(3);
    h.transport.answer('hang');
    expect(h.dispatcher.expire(waiting, 'waitUntilTimeout', 'late')).toBe(2);
    expect(h.dispatcher.expire(waiting, 'waitUntilTimeout', 'late')).toBe(0); // once only
    expect(h.stats.droppedBy.waitUntilTimeout).toBe(5);
    expect(h.dropped).toEqual([
      { reason: 'waitUntilTimeout', count: 3, status: undefined, message: '3 events were dropped: late' },
      { reason: 'waitUntilTimeout', count: 2, status: undefined, message: '2 events were dropped: late' },
    ]);
    // The retry timer of the expired batch went with it (no timer left); the lane goes on with the other batch.
    await settle();
    expect(h.clock.pending).toBe(0);
    expect(h.transport.bodies()).toHaveLength(2);
    expect(h.transport.bodies().at(-1)).toEqual(other);
    const inFlight = probe(h.dispatcher.flush());
    expect(h.dispatcher.expire(other, 'waitUntilTimeout', 'late')).toBe(1);
    await settle();
    expect(inFlight.done).toBe(true);
    h.transport.calls.at(-1)!.answer({ status: 200 }); // a late answer changes nothing
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ delivered: 0, dropped: 6, queued: 0, inFlight: 0 });
  });

  it('pauseUntil(): no request before that time; a time past is ignored', async () => {
    const h = makeDispatcher();
    h.dispatcher.pauseUntil(START - 1);
    h.dispatcher.pauseUntil(START);
    expect(h.dispatcher.notBefore).toBe(0);
    h.dispatcher.pauseUntil(START + 5_000);
    expect(h.dispatcher.notBefore).toBe(START + 5_000);
    expect(h.clock.delays).toEqual([5_000]);
    h.send(1);
    await h.clock.advance(4_999);
    expect(h.transport.calls).toHaveLength(0);
    await h.clock.advance(1);
    expect(h.transport.calls).toHaveLength(1);
  });

  it('forgiveFailures(): what waits for a backoff goes at once and the next failure backs off from the start; a Retry-After still holds', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 10_000 });
    h.transport.answer({ status: 500 }, { status: 500 }, { status: 500 });
    h.send(1);
    await settle();
    await h.clock.advance(100);
    expect(h.dispatcher.notBefore).toBe(START + 300);
    h.dispatcher.forgiveFailures();
    expect(h.dispatcher.notBefore).toBe(0);
    await settle();
    expect(h.transport.calls).toHaveLength(3);
    expect(h.clock.delays).toEqual([100, 200, 100]);
    expect(h.clock.pending).toBe(1);

    const server = makeDispatcher();
    server.transport.answer({ status: 429, headers: { 'retry-after': '5' } });
    server.send(1);
    await settle();
    server.dispatcher.forgiveFailures();
    await settle();
    expect(server.transport.calls).toHaveLength(1);
    await server.clock.advance(5_000);
    expect(server.transport.calls).toHaveLength(2);
  });

  it('Retry-After is capped at MAX_RETRY_AFTER_MS (five minutes)', async () => {
    expect(MAX_RETRY_AFTER_MS).toBe(300_000);
    const h = makeDispatcher();
    h.transport.answer({ status: 429, headers: { 'retry-after': '86400' } });
    h.send(1);
    await settle();
    expect(h.clock.delays).toEqual([300_000]);
    expect(h.dispatcher.notBefore).toBe(START + 300_000);
  });

  it('501, 505 and 511 are final', async () => {
    for (const status of [501, 505, 511]) {
      const h = makeDispatcher();
      h.transport.answer({ status });
      h.send(1);
      await settle();
      expect(h.stats.droppedBy.rejectedByServer, String(status)).toBe(1);
      expect(h.transport.calls).toHaveLength(1);
    }
  });

  it('a 413 after close()\'s deadline is dropped as closed, not split', async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    h.send(4);
    await settle();
    const closed = h.dispatcher.close(1_000);
    await h.clock.advance(1_000);
    await settle();
    await closed;
    expect(h.stats.droppedBy.closed).toBe(4);
    expect(h.transport.calls).toHaveLength(1);
  });
});

describe('dispatcher: found in review (issue 20)', () => {
  it('two overlapping pauseUntil(): the first one\'s end does not end the later, longer pause', async () => {
    const h = makeDispatcher();
    h.dispatcher.pauseUntil(START + 1_000);
    h.dispatcher.pauseUntil(START + 5_000);
    h.dispatcher.pauseUntil(START + 2_000); // shorter than the pause under way: changes nothing
    h.send(1);
    await h.clock.advance(4_999);
    expect(h.transport.calls).toHaveLength(0);
    await h.clock.advance(1);
    expect(h.transport.calls).toHaveLength(1);
    expect(h.clock.pending).toBe(0);
  });

  it('close() does not resend a waiting batch before the server\'s Retry-After has ended (its own backoff gives way)', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 100 });
    h.transport.answer({ status: 503, headers: { 'retry-after': '2' } });
    h.send(1);
    await settle();
    const closed = probe(h.dispatcher.close(10_000));
    await h.clock.advance(1_999);
    expect(h.transport.calls).toHaveLength(1);
    await h.clock.advance(1);
    expect(h.transport.calls).toHaveLength(2);
    await settle();
    expect(closed.done).toBe(true);
    expect(h.stats.snapshot()).toMatchObject({ delivered: 1, dropped: 0 });
  });

  it('sendNow() sizes chunks with the ids the events are sent with: no keep-alive body passes the budget', async () => {
    // Events without ids (no journal): each gains a 36-character UUID once it is assigned.
    const bare = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 't', action: 'a', identifiers: { u: String(i) }, data: { idempotence_id: '' } }));
    const withId = JSON.stringify({ ...bare(1)[0], data: { idempotence_id: '00000000-0000-4000-8000-000000000000' } }).length;
    const budget = 1 + 3 * (withId + 1); // three fit with their ids; four would fit without them
    expect(1 + 4 * (JSON.stringify(bare(1)[0]).length + 1)).toBeLessThanOrEqual(budget);
    let n = 0;
    const h = makeDispatcher({ keepaliveBytes: budget }, { newId: () => `00000000-0000-4000-8000-${String(n++).padStart(12, '0')}` });
    h.transport.fallback = 'hang';
    h.dispatcher.hold("test", true);
    h.send(bare(6) as never);
    h.dispatcher.sendNow();
    await settle();
    const sent = h.transport.calls.map((call) => call.request.body!.length);
    expect(sent).toEqual([budget]);
    expect(h.transport.calls[0]!.request.keepalive).toBe(true);
  });

  it('close() at its deadline: batches a journal keeps stay stored (handedOver, not dropped, not removed); others are dropped as closed', async () => {
    const h = makeDispatcher({}, { concurrency: 1 });
    const kept = new Set<number>();
    h.dispatcher.observer = {
      added: (batch) => (h.added.push(batch), batch.events.length > 1 && kept.add(batch.id)),
      removed: (batch) => void h.removed.push(batch),
      keeps: (batch) => kept.has(batch.id),
    };
    h.transport.fallback = 'hang';
    h.send(2); // in flight at the deadline: aborted, and kept
    h.send(3); // queued at the deadline, kept
    h.send(1); // queued, its write failed: dropped
    await settle();
    const closing = h.dispatcher.close(1_000);
    await h.clock.advance(1_000);
    await closing;
    expect(h.stats.snapshot()).toMatchObject({ accepted: 6, handedOver: 5, dropped: 1, droppedByReason: { closed: 1 }, queued: 0, inFlight: 0 });
    expect(h.removed.map((batch) => batch.events.length)).toEqual([1]);
    expect(h.dropped.map((d) => d.count)).toEqual([1]);
  });

  it('handOver(): batches another page took are forgotten, counted as handedOver, never sent again; a late answer to one in flight is ignored', async () => {
    const h = makeDispatcher({ initialBackoffMs: 100, maxBackoffMs: 100 }, { observe: true, concurrency: 2 });
    h.transport.answer({ status: 500 }, 'hang');
    h.send(2); // fails, then waits for a retry
    h.send(3); // in flight
    const c = h.send(1); // stays
    await settle();
    const [a, b] = h.added;
    expect(h.dispatcher.handOver(new Set([a!.id, b!.id]))).toBe(5);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 6, handedOver: 5, queued: 0, inFlight: 1 });
    h.transport.calls[1]!.answer({ status: 200 });
    await h.clock.advance(1_000);
    expect(h.transport.bodies().map(ids)).toEqual([ids(h.added[0]!.events as never), ids(h.added[1]!.events as never), ids(c)]);
    expect(h.stats.snapshot()).toMatchObject({ delivered: 1, handedOver: 5, queued: 0, inFlight: 0 });
    expect(h.delivered.map((d) => d.count)).toEqual([1]);
  });

  it('requeueUnconfirmed(): a request from before the host went that is still unanswered a second later is sent again (it may never settle); its late answer is ignored', async () => {
    const h = makeDispatcher({ keepaliveBytes: 10_000 }, { observe: true, concurrency: 2 });
    h.transport.answer('hang', 'hang', 'hang');
    const a = h.send(2);
    const b = h.send(1);
    await settle();
    h.dispatcher.handOff();
    h.dispatcher.hold('left', true);
    h.dispatcher.requeueUnconfirmed();
    h.dispatcher.hold('left', false);
    await h.clock.advance(999);
    h.transport.calls[1]!.answer({ status: 202 }); // answered within the grace: not sent again
    await h.clock.advance(1);
    expect(h.transport.bodies().map(ids)).toEqual([ids(a), ids(b), ids(a)]);
    h.transport.calls[0]!.answer({ status: 500 }); // the old request, at last, while the new one is on the wire: ignored
    await settle();
    h.transport.calls[2]!.answer({ status: 202 });
    await h.clock.advance(10_000);
    expect(h.transport.calls).toHaveLength(3);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 3, delivered: 3, queued: 0, inFlight: 0, retries: 0 });
  });
});
