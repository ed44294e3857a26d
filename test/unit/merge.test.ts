// Requests that grow with the backlog (issue 19): the rules of merging batches that wait behind
// busy slots, and of the extra slots a backlog may earn, on the fake clock and transport.
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES, MAX_REQUEST_EVENTS, maxSlots } from '../../src/dispatcher/merging';
import { utf8Length } from '../../src/core/values';
import { ids, makeDispatcher, settle, wireEvent, type DispatcherRig } from './harness';

/** `batches` batches of `size` events, cut one after the other (as the client cuts them). */
function cut(h: DispatcherRig, batches: number, size = 10): string[] {
  const all: string[] = [];
  for (let b = 0; b < batches; b++) all.push(...(ids(h.send(size)) as string[]));
  return all;
}

/** Events of `bytes` bytes of JSON each (the padding is ASCII). */
function sized(from: number, n: number, bytes: number) {
  return Array.from({ length: n }, (_, i) => {
    const event = wireEvent(from + i, { action: '' });
    event.action = 'x'.repeat(bytes - utf8Length(JSON.stringify(event)));
    return event;
  });
}

const bodies = (h: DispatcherRig) => h.transport.calls.map((call) => call.request.body!);

describe('merged requests: what waits behind busy slots goes in one request', () => {
  it(`caps a request at ${MAX_REQUEST_EVENTS} events, in the order batches were cut`, async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    const first = cut(h, 1);
    await settle();
    const waiting = cut(h, 60); // 600 events behind the busy slot
    await settle();
    expect(h.transport.calls).toHaveLength(1);
    h.transport.calls[0]!.answer({ status: 202 });
    await settle();
    h.transport.calls[1]!.answer({ status: 202 });
    await settle();
    const sent = h.transport.bodies().map(ids);
    expect(sent.map((events) => events.length)).toEqual([10, 500, 100]);
    expect(sent.flat()).toEqual([...first, ...waiting]);
    h.transport.calls[2]!.answer({ status: 202 });
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ accepted: 610, delivered: 610, pending: 0, requests: 3 });
    expect(h.delivered.map((d) => d.count)).toEqual([10, 500, 100]);
  });

  it(`holds merged requests to ${MAX_REQUEST_BYTES} bytes of JSON, in halves, order kept; a batch cut larger than that goes as cut`, async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    h.send(1);
    await settle();
    // 10 batches of 2 events of 40,000 bytes, one event larger than a request may be, one more of 40,000.
    const order: unknown[] = [];
    for (let b = 0; b < 10; b++) order.push(...ids(h.send(sized(100 * b, 2, 40_000))));
    order.push(...ids(h.send(sized(5_000, 1, MAX_REQUEST_BYTES + 10))));
    order.push(...ids(h.send(sized(6_000, 1, 40_000))));
    for (let i = 0; i < 20 && h.stats.snapshot().pending > 0; i++) {
      for (const call of h.transport.calls) if (!call.settled) call.answer({ status: 202 });
      await settle();
    }
    const requests = h.transport.bodies().slice(1);
    expect(requests.flat().map((e) => e.data.idempotence_id)).toEqual(order);
    for (const [i, body] of bodies(h).slice(1).entries()) {
      if (requests[i]!.length > 1) expect(utf8Length(body)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    }
    expect(requests.map((events) => events.length)).toEqual([11, 6, 3, 1, 1]); // 22 events: 440 KB, then halves of the rest
    expect(h.stats.snapshot()).toMatchObject({ delivered: 23, pending: 0, dropped: 0 });

    // A slot is free: the batch goes as cut, whatever its size (a 413 would split it).
    const alone = makeDispatcher({}, { concurrency: 2 });
    alone.send(sized(0, 2, 300_000));
    await settle();
    expect(alone.transport.bodies().map((events) => events.length)).toEqual([2]);
  });

  it('a merged body is retried byte for byte; batches cut during the backoff go after it, not in it', async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    cut(h, 1);
    await settle();
    cut(h, 5);
    h.transport.calls[0]!.answer({ status: 202 });
    await settle();
    const merged = h.transport.calls[1]!.request.body!;
    expect(JSON.parse(merged)).toHaveLength(50);
    h.transport.calls[1]!.answer({ status: 503 });
    await settle();
    const later = cut(h, 3);
    await h.clock.advance(100); // the backoff (initialBackoffMs 100, jitter at its ceiling)
    expect(h.transport.calls[2]!.request.body).toBe(merged);
    h.transport.calls[2]!.answer({ status: 202 });
    await settle();
    expect(h.transport.bodies()[3]!.map((e) => e.data.idempotence_id)).toEqual(later);
    expect(h.stats.snapshot()).toMatchObject({ retries: 1, queued: 0, inFlight: 30 });
  });

  it('a 413 splits a merged request in halves by events, ids kept, and each event is delivered once', async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    cut(h, 1, 2);
    await settle();
    const waiting = cut(h, 4, 3); // 12 events, merged into one request
    h.transport.calls[0]!.answer({ status: 202 });
    await settle();
    h.transport.calls[1]!.answer({ status: 413 });
    await settle();
    h.transport.calls[2]!.answer({ status: 202 });
    await settle();
    h.transport.calls[3]!.answer({ status: 202 });
    await settle();
    const sent = h.transport.bodies().map(ids);
    expect(sent.slice(1)).toEqual([waiting, waiting.slice(0, 6), waiting.slice(6)]);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 14, delivered: 14, dropped: 0, pending: 0 });
  });

  it('with one request slot, events arrive in the order they were cut, across merges and a retry', async () => {
    const h = makeDispatcher({}, { concurrency: 1 });
    h.transport.answer({ status: 202 }, { status: 500 });
    const order = cut(h, 3, 7);
    for (let round = 0; round < 6; round++) {
      await h.clock.advance(37);
      order.push(...cut(h, round % 3, 4));
    }
    await h.clock.advance(10_000);
    expect(h.stats.snapshot()).toMatchObject({ pending: 0, retries: 1 });
    const delivered = h.transport.calls.filter((_, i) => i !== 1).flatMap((call) => ids(JSON.parse(call.request.body!)));
    expect(delivered).toEqual(order);
    expect(maxSlots(1)).toBe(1);
  });

  it("no request, merged or not, goes before a Retry-After ends; then the retried batch goes first, alone and as sent", async () => {
    const h = makeDispatcher({}, { concurrency: 2 });
    h.transport.answer({ status: 429, headers: { 'retry-after': '5' } });
    const first = cut(h, 1);
    await settle();
    const body = h.transport.calls[0]!.request.body;
    const waiting = cut(h, 30);
    await h.clock.advance(4_999);
    expect(h.transport.calls).toHaveLength(1);
    await h.clock.advance(1);
    const sent = h.transport.bodies().map(ids);
    expect(h.transport.calls[1]!.request.body).toBe(body);
    expect(sent[1]).toEqual(first);
    expect(sent.slice(2).flat()).toEqual(waiting);
    expect(h.stats.snapshot()).toMatchObject({ delivered: 310, pending: 0 });
  });

  it('no merging until the server answered 2xx: after a failure batches go one at a time (a batch out of retries takes only its own events); a 2xx merges the backlog again', async () => {
    const h = makeDispatcher({ maxRetries: 1 }, { concurrency: 1 });
    h.transport.answer({ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 });
    cut(h, 1);
    await settle();
    cut(h, 20); // waiting behind the failing batch
    await h.clock.advance(10_000);
    const sizes = h.transport.bodies().map((events) => events.length);
    expect(sizes.slice(0, 4)).toEqual([10, 10, 10, 10]); // two batches, each tried twice, one at a time
    expect(h.dropped.map((d) => [d.reason, d.count])).toEqual([['retriesExhausted', 10], ['retriesExhausted', 10]]);
    expect(sizes.slice(4, 6)).toEqual([10, 180]); // a single batch answered 2xx, then the backlog merged
    expect(h.stats.snapshot()).toMatchObject({ accepted: 210, delivered: 190, dropped: 20, pending: 0 });
  });

  it("browsers' dispatcher does not merge: batches behind busy slots go one per request, in order, keep-alive within the budget; sendNow at page hide stays within what is left", async () => {
    const budget = 4_000;
    const h = makeDispatcher({ keepaliveBytes: budget }, { observe: true, merging: false });
    h.transport.fallback = 'hang';
    h.send(1);
    await settle();
    h.transport.calls[0]!.answer({ status: 202 }); // healthy: a merging dispatcher would merge now
    await settle();
    const order: unknown[] = [];
    h.send(1);
    await settle();
    for (let b = 0; b < 4; b++) order.push(...ids(h.send(sized(10 * b, 1, 1_000))));
    for (let i = 1; i < 8 && h.stats.snapshot().queued > 0; i++) {
      if (!h.transport.calls[i]!.settled) h.transport.calls[i]!.answer({ status: 202 });
      await settle();
    }
    const sent = h.transport.calls.slice(2).map((call) => call.request);
    expect(sent.map((request) => JSON.parse(request.body!).length)).toEqual([1, 1, 1, 1]);
    expect(sent.flatMap((request) => ids(JSON.parse(request.body!)))).toEqual(order);
    expect(sent.every((request) => request.keepalive)).toBe(true);

    // Page hide: one keep-alive request of 3,000 B is on the wire; queued batches go at once as
    // keep-alive requests, each alone, within the 1,000 B left of the budget.
    const hide = makeDispatcher({ keepaliveBytes: budget }, { observe: true, merging: false });
    hide.transport.fallback = 'hang';
    hide.send(sized(100, 3, 1_000));
    await settle();
    hide.send(sized(200, 1, 900));
    hide.send(sized(300, 1, 1_000));
    hide.dispatcher.sendNow();
    const atHide = hide.transport.calls.slice(1).map((call) => call.request);
    expect(atHide.map((request) => JSON.parse(request.body!).length)).toEqual([1]); // the 900 B batch; the next would pass the budget
    expect(atHide.every((request) => request.keepalive)).toBe(true);
  });
});

describe('request slots that a backlog earns', () => {
  /** The most requests in flight at once while `run` goes on. */
  async function peak(h: DispatcherRig, run: () => Promise<void>): Promise<number> {
    let most = 0;
    const original = h.transport.request.bind(h.transport);
    let open = 0;
    h.transport.request = (request) => {
      most = Math.max(most, ++open);
      return original(request).finally(() => open--);
    };
    await run();
    return most;
  }

  it(`a backlog of full requests grows the lane from maxConcurrentRequests (2) to ${maxSlots(2)} slots, never more; drained, it goes back to 2`, async () => {
    const h = makeDispatcher({}, { concurrency: 2 });
    h.transport.fallback = 'hang';
    const most = await peak(h, async () => {
      cut(h, 400); // 4,000 events: 8 full requests
      await settle();
      for (let i = 0; i < 40 && h.stats.snapshot().pending > 0; i++) {
        for (const call of h.transport.calls) if (!call.settled) call.answer({ status: 202 });
        await settle();
      }
    });
    expect(most).toBe(4);
    expect(h.stats.snapshot()).toMatchObject({ delivered: 4_000, pending: 0, queued: 0, inFlight: 0 });
    // Each event went in exactly one request: a slot opened mid-merge must not send a batch being merged.
    const sent = h.transport.bodies().flatMap(ids);
    expect(sent).toHaveLength(4_000);
    expect(new Set(sent).size).toBe(4_000);
    expect(Math.max(...h.transport.bodies().map((events) => events.length))).toBe(500);
    // Drained: three batches cut in one task, two slots again: the first alone, the last free slot takes the other two.
    const before = h.transport.calls.length;
    cut(h, 3);
    await settle();
    expect(h.transport.bodies().slice(before).map((events) => events.length)).toEqual([10, 20]);
  });

  it('no extra slot while the server fails, and none with maxConcurrentRequests 1', async () => {
    const failing = makeDispatcher({ maxRetries: 100 }, { concurrency: 2 });
    failing.transport.fallback = { status: 503 };
    const most = await peak(failing, async () => {
      cut(failing, 400);
      await failing.clock.advance(3_000);
    });
    expect(most).toBe(2);

    const one = makeDispatcher({}, { concurrency: 1 });
    one.transport.fallback = 'hang';
    const single = await peak(one, async () => {
      cut(one, 400);
      await settle();
      for (let i = 0; i < 20 && one.stats.snapshot().pending > 0; i++) {
        for (const call of one.transport.calls) if (!call.settled) call.answer({ status: 202 });
        await settle();
      }
    });
    expect(single).toBe(1);
    expect(one.stats.snapshot()).toMatchObject({ delivered: 4_000, pending: 0 });
  });
});

describe('every promise holds for merged requests', () => {
  it('batches sent alone (a slot always free) leave the queue: it does not grow with every batch ever cut', async () => {
    const h = makeDispatcher({}, { concurrency: 2 });
    for (let i = 0; i < 5_000; i++) {
      h.send(1);
      await Promise.resolve();
      await Promise.resolve();
      await Promise.resolve();
    }
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ delivered: 5_000, requests: 5_000 });
    // The dispatcher's queue (a private field).
    expect((h.dispatcher as unknown as { queue: unknown[] }).queue.length).toBe(0);
  });

  it("each batch's promise (what waitUntil gets) settles when the request that carried it does; flush() waits for it", async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    h.send(1);
    await settle();
    const promises = Array.from({ length: 5 }, () => h.dispatcher.dispatch([wireEvent(9_000 + Math.random())], { host: 'https://odp.test', publicKey: 'pk-test-key' }));
    for (let i = 0; i < 5; i++) h.stats.accept();
    const settled: number[] = [];
    promises.forEach((promise, i) => void promise.then(() => settled.push(i)));
    let flushed = false;
    void h.dispatcher.flush().then(() => (flushed = true));
    h.transport.calls[0]!.answer({ status: 202 });
    await settle();
    expect(h.transport.calls).toHaveLength(2);
    expect(settled).toEqual([]);
    h.transport.calls[1]!.answer({ status: 202 });
    await settle();
    expect(settled).toEqual([0, 1, 2, 3, 4]);
    expect(flushed).toBe(true);
  });

  it('a journal is told of the merged batch: what is stored is exactly what is sent, and the parts leave it', async () => {
    const h = makeDispatcher({}, { observe: true });
    h.transport.fallback = 'hang';
    h.send(1);
    await settle();
    h.send(2);
    h.send(3);
    h.transport.calls[0]!.answer({ status: 202 });
    await settle();
    const merged = h.added.at(-1)!;
    expect(merged.events).toHaveLength(5);
    expect(merged.body).toBe(h.transport.calls[1]!.request.body);
    expect(h.removed.map((batch) => batch.events.length)).toEqual([1, 2, 3]);
    h.transport.calls[1]!.answer({ status: 202 });
    await settle();
    expect(h.removed.at(-1)).toBe(merged);
  });

  it('close() delivers merged requests and drops what is left at the deadline, counted once', async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    h.send(1);
    await settle();
    cut(h, 4);
    const closed = h.dispatcher.close(1_000);
    h.transport.calls[0]!.answer({ status: 202 });
    await settle();
    expect(JSON.parse(h.transport.calls[1]!.request.body!)).toHaveLength(40);
    await h.clock.advance(1_000);
    await closed;
    expect(h.dropped.map((d) => [d.reason, d.count])).toEqual([['closed', 40]]);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 41, delivered: 1, dropped: 40, pending: 0 });
  });

  it("expire() (waitUntil's deadline) of a batch inside a merged request drops that request whole: every promise settles, stats balance", async () => {
    const h = makeDispatcher();
    h.transport.fallback = 'hang';
    h.send(1);
    await settle();
    const odp = { host: 'https://odp.test', publicKey: 'pk-test-key' };
    const first = [wireEvent(7_001), wireEvent(7_002)];
    const second = [wireEvent(7_003)];
    const settled: string[] = [];
    for (const [name, events] of [['first', first], ['second', second]] as const) {
      for (let i = 0; i < events.length; i++) h.stats.accept();
      void h.dispatcher.dispatch(events, odp).then(() => settled.push(name));
    }
    h.transport.calls[0]!.answer({ status: 202 });
    await settle();
    expect(JSON.parse(h.transport.calls[1]!.request.body!)).toHaveLength(3); // both batches in one request
    expect(h.dispatcher.expire(second, 'waitUntilTimeout', 'late')).toBe(3);
    await settle();
    expect(settled.sort()).toEqual(['first', 'second']);
    expect(h.stats.snapshot()).toMatchObject({ accepted: 4, delivered: 1, dropped: 3, pending: 0 });
    h.transport.calls[1]!.answer({ status: 202 }); // a late answer changes nothing
    await settle();
    expect(h.stats.snapshot()).toMatchObject({ delivered: 1, dropped: 3, pending: 0 });
  });
});
