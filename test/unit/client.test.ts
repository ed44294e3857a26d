import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { OdpError } from '../../src/event/odp-error';
import type { SegmentsFactory, SegmentsService } from '../../src/segments/segments-manager';
import type { OdpClientEvents, OdpWireEvent } from '../../src/types';
import { datafile, makeClient, memoryKeyValue, PUBLIC_KEY, settle, START, wireEvent } from './harness';

const event = (n = 0) => ({ action: 'a', identifiers: { fs_user_id: `u${n}` } });

describe('client: refusals, in order', () => {
  it('before the datafile: sdkNotReady, with a warning', () => {
    const { client, log } = makeClient({ sdkKey: 'k' }, { answers: ['hang'] });
    const error = client.sendOdpEvent(event());
    expect(error).toBeInstanceOf(OdpError);
    expect(error?.code).toBe('sdkNotReady');
    expect(error?.message).toBe('the datafile is not ready yet');
    expect(log.lines).toContainEqual({
      level: 'warn',
      message: '[odp-sdk] event refused: sdkNotReady: the datafile is not ready yet',
    });
    expect(client.stats().rejected).toEqual({ sdkNotReady: 1 });
    expect(client.isReady()).toBe(false);
  });

  it('disabled: odpNotEnabled; no ODP integration: odpNotIntegrated', () => {
    const disabled = makeClient({ datafile: datafile(), odp: { disabled: true } });
    expect(disabled.client.sendOdpEvent(event())?.code).toBe('odpNotEnabled');
    expect(disabled.client.sendOdpEvent(event())?.message).toBe('odp.disabled is set');
    const none = makeClient({ datafile: { version: '4' } });
    expect(none.client.sendOdpEvent(event())?.code).toBe('odpNotIntegrated');
    expect(none.client.sendOdpEvent(event())?.message).toBe('no ODP host and publicKey in the datafile');
    expect(none.client.stats().rejected).toEqual({ odpNotIntegrated: 2 });
    expect(none.log.lines).toContainEqual({ level: 'warn', message: '[odp-sdk] ODP not integrated: no ODP integration with host and publicKey' });
  });

  it('bad input: the validation error, counted, logged at debug', () => {
    const { client, log } = makeClient();
    const error = client.sendOdpEvent({ action: '', identifiers: { fs_user_id: 'u' } });
    expect(error?.code).toBe('invalidAction');
    expect(client.stats().rejected).toEqual({ invalidAction: 1 });
    expect(log.lines).toContainEqual({ level: 'debug', message: '[odp-sdk] event refused: invalidAction: action empty' });
    const quiet = makeClient(undefined, { logLevel: 'info' });
    quiet.client.sendOdpEvent({ action: '', identifiers: {} });
    expect(quiet.log.lines.filter((l) => l.level === 'debug')).toEqual([]);
  });

  it('queueFull once queueSize events are held', () => {
    const { client } = makeClient({ datafile: datafile(), odp: { queueSize: 2, flushIntervalMs: 1_000 } });
    expect(client.sendOdpEvent(event(1))).toBeNull();
    expect(client.sendOdpEvent(event(2))).toBeNull();
    const error = client.sendOdpEvent(event(3));
    expect(error?.code).toBe('queueFull');
    expect(error?.message).toBe('queue full (odp.queueSize 2)');
    expect(client.stats()).toMatchObject({ accepted: 2, queued: 2, rejected: { queueFull: 1 } });
  });

  it('odp.maxEventBytes reaches validation', () => {
    const { client } = makeClient({ datafile: datafile(), odp: { maxEventBytes: 300 } });
    expect(client.sendOdpEvent({ ...event(), data: { text: 'x'.repeat(300) } })?.code).toBe('eventTooLarge');
    expect(client.sendOdpEvent(event())).toBeNull();
  });

  it('closed after close(); a bad event is still reported as bad', async () => {
    const { client } = makeClient();
    await client.close();
    expect(client.sendOdpEvent(event())?.code).toBe('closed');
    expect(client.sendOdpEvent(event())?.message).toBe('client closed');
    expect(client.sendOdpEvent({ action: 5, identifiers: { fs_user_id: 'u' } } as never)?.code).toBe('invalidAction');
  });

  it('never throws, even for a hostile event object', () => {
    const { client } = makeClient();
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    expect(client.sendOdpEvent(hostile as never)?.code).toBe('invalidIdentifiers');
  });
});

describe('client: accepted events', () => {
  it('object and positional forms make the same wire event, with a generated idempotence id', async () => {
    const { client, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0 } });
    expect(client.sendOdpEvent({ type: 't', action: 'a', identifiers: { fs_user_id: 'u' }, data: { k: 1 } })).toBeNull();
    expect(client.sendOdpEvent('t', 'a', { fs_user_id: 'u' }, { k: 1 })).toBeNull();
    expect(client.sendOdpEvent(undefined, 'a', { fs_user_id: 'u' })).toBeNull();
    await settle();
    const [batch] = transport.bodies();
    expect(batch).toHaveLength(3);
    const [first, second, third] = batch as [OdpWireEvent, OdpWireEvent, OdpWireEvent];
    expect(first.data.idempotence_id).toMatch(/^00000000-0000-4000-8000-\d{12}$/);
    expect(second.data.idempotence_id).not.toBe(first.data.idempotence_id);
    expect({ ...first, data: { ...first.data, idempotence_id: '' } }).toEqual({ ...second, data: { ...second.data, idempotence_id: '' } });
    expect(third.type).toBe('fullstack');
    expect(client.sendOdpEvent(null, 'a', { fs_user_id: 'u' })).toBeNull(); // a null type is the positional form too
    expect(third.data.k).toBeUndefined();
    expect(transport.calls[0]!.request.url).toBe('https://odp.test/v3/events');
    expect(transport.calls[0]!.request.headers['x-api-key']).toBe(PUBLIC_KEY);
  });

  it("the positional form with \"fullstack\" as the action (Optimizely's (action, type) order) is sent as given, with one warning", async () => {
    const { client, transport, log } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0 } }, { logLevel: 'warn' });
    expect(client.sendOdpEvent('purchased', 'fullstack', { fs_user_id: 'u' })).toBeNull();
    expect(client.sendOdpEvent('viewed', 'fullstack', { fs_user_id: 'u' })).toBeNull();
    expect(client.sendOdpEvent('fullstack', 'purchased', { fs_user_id: 'u' })).toBeNull();
    await client.flush();
    expect(transport.bodies()[0]!.map((e) => [e.type, e.action])).toEqual([['purchased', 'fullstack'], ['viewed', 'fullstack'], ['fullstack', 'purchased']]);
    expect(log.lines).toEqual([
      {
        level: 'warn',
        message: `[odp-sdk] sendOdpEvent("purchased", "fullstack", ...): sent as action "fullstack"; the order is (type, action, ...), Optimizely's (action, type, ...)`,
      },
    ]);
  });

  it('a given idempotence id is kept', async () => {
    const { client, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0 } });
    client.sendOdpEvent({ ...event(), data: { idempotence_id: 'mine' } });
    await settle();
    expect(transport.bodies()[0]![0]!.data.idempotence_id).toBe('mine');
  });

  it('a full batch goes at once, without waiting for the timer; the timer, left to serve a next batch, ends when it finds none', async () => {
    const { client, transport, clock } = makeClient({ datafile: datafile(), odp: { batchSize: 3, flushIntervalMs: 60_000 } });
    client.sendOdpEvent(event(1));
    client.sendOdpEvent(event(2));
    expect(clock.pending).toBe(1);
    client.sendOdpEvent(event(3));
    await settle();
    expect(transport.bodies().map((b) => b.length)).toEqual([3]);
    expect(client.stats()).toMatchObject({ accepted: 3, delivered: 3, requests: 1 });
    await clock.advance(60_000);
    expect(clock.pending).toBe(0);
    expect(transport.calls).toHaveLength(1);
  });

  it('a partial batch goes flushIntervalMs after its first event; no timer while idle', async () => {
    const { client, transport, clock } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 500 } });
    expect(clock.pending).toBe(0);
    client.sendOdpEvent(event(1));
    await clock.advance(300);
    client.sendOdpEvent(event(2));
    await clock.advance(199);
    expect(transport.calls).toHaveLength(0);
    await clock.advance(1);
    expect(transport.bodies().map((b) => b.length)).toEqual([2]);
    expect(clock.pending).toBe(0);
  });

  it('flushIntervalMs 0: a synchronous burst shares one request', async () => {
    const { client, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0, batchSize: 100 } });
    for (let i = 0; i < 5; i++) client.sendOdpEvent(event(i));
    await settle();
    expect(transport.bodies().map((b) => b.length)).toEqual([5]);
  });

  it('flush() sends what is queued and resolves once it is delivered, keeping Node alive meanwhile', async () => {
    const { client, transport, holds } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 60_000 } });
    transport.fallback = 'hang';
    client.sendOdpEvent(event());
    let done = false;
    const flushing = client.flush().then(() => (done = true));
    await settle();
    expect(transport.calls).toHaveLength(1);
    expect(holds).toEqual({ taken: 1, released: 0 });
    expect(done).toBe(false);
    transport.calls[0]!.answer({ status: 200 });
    await flushing;
    expect(holds).toEqual({ taken: 1, released: 1 });
  });

  it('flush() resolves true once everything settled, at once when nothing is queued', async () => {
    const { client, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 60_000 } });
    expect(await client.flush()).toBe(true);
    expect(await client.flush({ timeoutMs: 0 })).toBe(true);
    transport.answer({ status: 400 });
    client.sendOdpEvent(event());
    expect(await client.flush({ timeoutMs: 1_000 })).toBe(true); // dropped is settled too
    expect(client.stats()).toMatchObject({ dropped: 1, pending: 0 });
  });

  it('flush({ timeoutMs }) resolves false by the deadline, never rejects, and leaves the events queued: they are delivered later', async () => {
    const { client, transport, clock, holds } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 60_000, initialBackoffMs: 10_000, maxBackoffMs: 10_000 } });
    transport.answer({ status: 503 }, { status: 503 });
    for (let i = 0; i < 3; i++) client.sendOdpEvent(event(i));
    let result: boolean | undefined;
    void client.flush({ timeoutMs: 5_000 }).then((value) => (result = value));
    await clock.advance(4_999);
    expect(result).toBeUndefined();
    await clock.advance(1);
    expect(result).toBe(false);
    expect(holds.taken).toBe(holds.released);
    // Not dropped: flush is not close.
    expect(client.stats()).toMatchObject({ accepted: 3, dropped: 0, queued: 3, pending: 3 });
    expect(client.stats().droppedByReason).toEqual({ retriesExhausted: 0, rejectedByServer: 0, tooLarge: 0, closed: 0, optedOut: 0, waitUntilTimeout: 0 });
    // A bad timeoutMs is no timeout; a hostile options object never makes flush reject.
    const hostile = { get timeoutMs(): number { throw new Error('getter'); } };
    const pending = client.flush(hostile);
    await clock.advance(60_000);
    expect(await pending).toBe(true);
    expect(client.stats()).toMatchObject({ delivered: 3, pending: 0 });
  });

  it('once() hears one event, then no more; its function cancels it before', async () => {
    const { client, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0 } });
    const heard: number[] = [];
    client.once('delivered', ({ count }) => heard.push(count));
    const cancelled: number[] = [];
    client.once('delivered', ({ count }) => cancelled.push(count))();
    expect(client.once('delivered', 'nope' as never)).toBeTypeOf('function');
    transport.fallback = { status: 200 };
    client.sendOdpEvent(event(1));
    await settle();
    client.sendOdpEvent(event(2));
    client.sendOdpEvent(event(3));
    await settle();
    expect(heard).toEqual([1]);
    expect(cancelled).toEqual([]);
  });

  it('stats, and delivered/dropped events for listeners; a listener that is not a function is ignored', async () => {
    const { client, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0 } });
    const delivered: Array<OdpClientEvents['delivered']> = [];
    const off = client.on('delivered', (payload) => delivered.push(payload));
    expect(client.on('delivered', 'nope' as never)).toBeTypeOf('function');
    client.on('delivered', 'nope' as never)();
    transport.answer({ status: 200 });
    client.sendOdpEvent(event());
    await settle();
    expect(delivered).toEqual([{ count: 1, status: 200 }]);
    off();
    client.sendOdpEvent(event());
    await settle();
    expect(delivered).toHaveLength(1);
    expect(client.stats()).toMatchObject({ accepted: 2, delivered: 2, requests: 2 });
    expect(client.stats().storageErrors).toBeUndefined();
  });
});

describe('client: close()', () => {
  it('sends what is queued, stops polling, closes segments, releases Node; the same promise each time', async () => {
    let closedSegments = 0;
    const segments: SegmentsFactory = () => ({ configure() {}, fetch: async () => null, close: () => void closedSegments++ });
    const { client, transport, clock, holds } = makeClient(
      { datafile: datafile(), sdkKey: 'k', datafileUpdateIntervalMs: 1_000, odp: { flushIntervalMs: 60_000 } },
      { segments, answers: [{ status: 304 }] },
    );
    client.sendOdpEvent(event());
    await settle();
    const first = client.close();
    expect(client.close()).toBe(first);
    await first;
    expect(closedSegments).toBe(1);
    expect(transport.bodies()).toHaveLength(1);
    expect(holds).toEqual({ taken: 1, released: 1 });
    expect(clock.pending).toBe(0); // no poll, no flush timer, no deadline
    const gets = transport.calls.filter((c) => c.request.method === 'GET').length;
    await clock.advance(10_000);
    expect(transport.calls.filter((c) => c.request.method === 'GET').length).toBe(gets);
  });

  it('the deadline is timeoutMs, or closeTimeoutMs when none (or a bad one) is given', async () => {
    for (const [options, deadline] of [
      [{ timeoutMs: 300 }, 300],
      [{ timeoutMs: 0 }, 0],
      [{}, 700],
      [{ timeoutMs: -1 }, 700],
      [undefined, 700],
    ] as const) {
      const { client, transport, clock } = makeClient({ datafile: datafile(), closeTimeoutMs: 700, odp: { flushIntervalMs: 60_000 } });
      transport.fallback = 'hang';
      client.sendOdpEvent(event());
      let done = false;
      void client.close(options).then(() => (done = true));
      if (deadline > 0) {
        await clock.advance(deadline - 1);
        expect(done, JSON.stringify(options)).toBe(false);
      }
      await clock.advance(deadline > 0 ? 1 : 0);
      expect(done, JSON.stringify(options)).toBe(true);
      expect(client.stats().droppedByReason.closed).toBe(1);
    }
  });
});

describe('client: datafile', () => {
  it('fetched for an sdkKey: ready, then events go to its ODP host; the secret key is masked in logs', async () => {
    const { client, transport, log } = makeClient({ sdkKey: 'my key', odp: { flushIntervalMs: 0 } }, { answers: ['hang'] });
    const ready: unknown[] = [];
    const updates: unknown[] = [];
    client.on('ready', (payload) => ready.push(payload));
    client.on('datafileUpdate', (payload) => updates.push(payload));
    let readyResolved = false;
    void client.onReady().then(() => (readyResolved = true));
    expect(transport.calls[0]!.request.url).toBe('https://cdn.optimizely.com/datafiles/my%20key.json');
    transport.calls[0]!.answer({ status: 200, body: JSON.stringify(datafile()) });
    await settle();
    expect(client.isReady()).toBe(true);
    expect(readyResolved).toBe(true);
    const odp = { host: 'https://odp.test', publicKey: PUBLIC_KEY };
    expect(ready).toEqual([{ odp }]);
    expect(updates).toEqual([{ revision: '7', odp }]);
    await client.onReady();
    log.lines.length = 0;
    client.sendOdpEvent(event());
    transport.answer({ status: 400, body: `bad key ${PUBLIC_KEY}` });
    await settle();
    expect(log.text()).toContain('bad key ***');
    expect(log.text()).not.toContain(PUBLIC_KEY);
  });

  it('onReady with timeoutMs rejects when no datafile comes in time, and cancels its timer when one does', async () => {
    const late = makeClient({ sdkKey: 'k' }, { answers: ['hang'] });
    const rejected = late.client.onReady({ timeoutMs: 50 }).catch((error: Error) => error.message);
    await late.clock.advance(49);
    const state = { done: false };
    void rejected.then(() => (state.done = true));
    await settle();
    expect(state.done).toBe(false);
    await late.clock.advance(1);
    expect(await rejected).toBe('odp-sdk: no valid datafile within 50 ms; no answer yet from https://cdn.optimizely.com/datafiles/k.json');

    const zero = makeClient({ sdkKey: 'k' }, { answers: ['hang'] });
    const atOnce = zero.client.onReady({ timeoutMs: 0 }).catch((error: Error) => error.message);
    await zero.clock.advance(0);
    expect(await atOnce).toBe('odp-sdk: no valid datafile within 0 ms; no answer yet from https://cdn.optimizely.com/datafiles/k.json');

    const { client, transport, clock } = makeClient({ sdkKey: 'k' }, { answers: ['hang'] });
    const before = clock.pending;
    const waiting = client.onReady({ timeoutMs: 10_000 });
    const forever = client.onReady({ timeoutMs: -1 });
    const noTimer = client.onReady({ timeoutMs: '5' as never });
    expect(clock.pending).toBe(before + 1);
    const withTimer = clock.pending;
    transport.calls[0]!.answer({ status: 200, body: JSON.stringify(datafile()) });
    await waiting;
    await forever;
    await noTimer;
    expect(clock.delays.filter((d) => d === 10_000)).toHaveLength(1);
    expect(clock.pending).toBe(withTimer); // the timeout went, the next poll came
  });

  it('onReady with timeoutMs holds the host open while it waits (Node would exit first) and rejects naming the last cause', async () => {
    const { client, clock, holds, transport } = makeClient({ sdkKey: 'bad', datafileUrlTemplate: 'http://127.0.0.1:9/{sdkKey}.json' }, { answers: [{ status: 403 }] });
    transport.fallback = { status: 403 };
    await settle();
    expect(holds).toEqual({ taken: 0, released: 0 });
    const rejected = client.onReady({ timeoutMs: 3_000 }).catch((error: Error) => error.message);
    const noTimeout = client.onReady();
    expect(holds).toEqual({ taken: 1, released: 0 });
    void noTimeout;
    expect(holds.taken).toBe(1); // without a timeout it would hold for ever: no hold
    await clock.advance(3_000);
    expect(await rejected).toBe(
      'odp-sdk: no valid datafile within 3000 ms; datafile http://127.0.0.1:9/bad.json failed: status 403 (wrong sdkKey?)',
    );
    expect(holds).toEqual({ taken: 1, released: 1 });

    // Settled by the datafile: released too.
    const later = makeClient({ sdkKey: 'k' }, { answers: ['hang'] });
    const waiting = later.client.onReady({ timeoutMs: 60_000 });
    expect(later.holds).toEqual({ taken: 1, released: 0 });
    later.transport.calls[0]!.answer({ status: 200, body: JSON.stringify(datafile()) });
    await waiting;
    expect(later.holds).toEqual({ taken: 1, released: 1 });
    // And by close().
    const closing = makeClient({ sdkKey: 'k' }, { answers: ['hang'] });
    const closed = closing.client.onReady({ timeoutMs: 60_000 }).catch(() => 'rejected');
    await closing.client.close({ timeoutMs: 0 });
    expect(await closed).toBe('rejected');
    expect(closing.holds.taken - closing.holds.released).toBe(0);
  });

  it('onReady rejects when the client is closed first, and at once after close or when it can never be ready', async () => {
    const { client } = makeClient({ sdkKey: 'k' }, { answers: ['hang'] });
    const waiting = client.onReady().catch((error: Error) => error.message);
    void client.close({ timeoutMs: 0 });
    expect(await waiting).toBe('odp-sdk: closed before ready');
    await expect(client.onReady()).rejects.toThrow('odp-sdk: closed before ready');

    const never = makeClient({ datafile: '{not json' } as never);
    await expect(never.client.onReady()).rejects.toThrow('odp-sdk: no valid datafile and no sdkKey');
    const ready = makeClient();
    void ready.client.close({ timeoutMs: 0 });
    await expect(ready.client.onReady()).resolves.toBeUndefined();
  });

  it('a new datafile with other ODP settings sends what was queued under the old ones first', async () => {
    const { client, transport, clock } = makeClient(
      { sdkKey: 'k', datafileUpdateIntervalMs: 1_000, odp: { flushIntervalMs: 60_000 } },
      { answers: [{ status: 200, body: JSON.stringify(datafile('https://old.test')) }] },
    );
    await settle();
    client.sendOdpEvent(event(1));
    transport.answer({ status: 200, body: JSON.stringify(datafile('https://new.test')) });
    await clock.advance(1_000);
    client.sendOdpEvent(event(2));
    await client.flush();
    const posts = transport.calls.filter((c) => c.request.method === 'POST').map((c) => c.request.url);
    expect(posts).toEqual(['https://old.test/v3/events', 'https://new.test/v3/events']);
  });

  it('a new public key on the same host also sends what was queued under the old one first', async () => {
    const { client, transport, clock } = makeClient(
      { sdkKey: 'k', datafileUpdateIntervalMs: 1_000, odp: { flushIntervalMs: 60_000 } },
      { answers: [{ status: 200, body: JSON.stringify(datafile('https://odp.test', 'key-1')) }] },
    );
    await settle();
    client.sendOdpEvent(event(1));
    transport.answer({ status: 200, body: JSON.stringify(datafile('https://odp.test', 'key-2')) });
    await clock.advance(1_000);
    client.sendOdpEvent(event(2));
    await client.flush();
    const keys = transport.calls.filter((c) => c.request.method === 'POST').map((c) => c.request.headers['x-api-key']);
    expect(keys).toEqual(['key-1', 'key-2']);
  });

  it('ready once: a later datafile is an update, not a second ready; onReady() without a timeout never rejects', async () => {
    const { client, transport, clock } = makeClient(
      { sdkKey: 'k', datafileUpdateIntervalMs: 1_000, vuid: true },
      { answers: [{ status: 200, body: JSON.stringify(datafile()) }], storage: memoryKeyValue() },
    );
    let rejected = false;
    client.onReady().catch(() => (rejected = true));
    const ready: unknown[] = [];
    client.on('ready', (payload) => ready.push(payload));
    await settle();
    transport.answer({ status: 200, body: JSON.stringify(datafile()) });
    await clock.advance(1_000);
    expect(ready).toHaveLength(1);
    expect(rejected).toBe(false);
    await client.flush();
    expect(transport.bodies().flat().filter((e) => e.action === 'client_initialized')).toHaveLength(1);
  });

  it('a platform without holdOpen (browsers) flushes and closes all the same', async () => {
    const { client, platform, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 60_000 } });
    delete platform.holdOpen;
    client.sendOdpEvent(event());
    await client.flush();
    await client.close();
    expect(transport.bodies()).toHaveLength(1);
  });

  it('the same ODP settings in a new datafile keep the batch together', async () => {
    const { client, transport, clock } = makeClient(
      { sdkKey: 'k', datafileUpdateIntervalMs: 1_000, odp: { flushIntervalMs: 60_000 } },
      { answers: [{ status: 200, body: JSON.stringify(datafile()) }] },
    );
    await settle();
    client.sendOdpEvent(event(1));
    transport.answer({ status: 200, body: JSON.stringify(datafile()) });
    await clock.advance(1_000);
    client.sendOdpEvent(event(2));
    await client.flush();
    expect(transport.bodies().map((b) => b.length)).toEqual([2]);
  });

  it('a datafile that drops ODP sends the queued batch to the old host, then refuses events', async () => {
    const { client, transport, clock } = makeClient(
      { sdkKey: 'k', datafileUpdateIntervalMs: 1_000, odp: { flushIntervalMs: 60_000 } },
      { answers: [{ status: 200, body: JSON.stringify(datafile()) }] },
    );
    await settle();
    client.sendOdpEvent(event(1));
    transport.answer({ status: 200, body: JSON.stringify({ revision: '8' }) });
    await clock.advance(1_000);
    await settle();
    expect(transport.bodies()).toHaveLength(1);
    expect(client.sendOdpEvent(event(2))?.code).toBe('odpNotIntegrated');
  });

  it('a bad config is logged and replaced by defaults', () => {
    const { log } = makeClient({ datafile: datafile(), odp: { batchSize: 0 } });
    expect(log.lines).toContainEqual({ level: 'error', message: '[odp-sdk] invalid config: odp.batchSize must be an integer >= 1; using 10' });
  });

  it('config warnings (an unknown key, a value clamped to its bound) are logged at warn when the client is made', () => {
    const { log } = makeClient({ datafile: datafile(), logLevl: 'info', odp: { batchSize: 1e9 } } as never, { logLevel: 'warn' });
    expect(log.lines).toEqual([
      { level: 'warn', message: '[odp-sdk] config: odp.batchSize must be <= 500, got 1000000000; using 500' },
      { level: 'warn', message: '[odp-sdk] config: unknown option logLevl ignored; did you mean logLevel?' },
    ]);
  });
});

describe('client: vuid', () => {
  it('vuid: true adds the visitor id to events and sends client_initialized once ready', async () => {
    const storage = memoryKeyValue();
    const { client, transport } = makeClient({ datafile: datafile(), vuid: true, odp: { flushIntervalMs: 0 } }, { storage });
    const vuid = client.getVuid()!;
    expect(vuid).toMatch(/^vuid_[0-9a-f]{27}$/);
    expect(storage.map.get('optimizely-vuid')).toBe(vuid);
    client.sendOdpEvent(event(1));
    client.sendOdpEvent({ action: 'a', identifiers: { vuid: 'vuid_given' } });
    await settle();
    const [events] = transport.bodies();
    expect(events!.map((e) => [e.action, e.identifiers])).toEqual([
      ['client_initialized', { vuid }],
      ['a', { fs_user_id: 'u1', vuid }],
      ['a', { vuid: 'vuid_given' }],
    ]);
  });

  it("the default (no vuid option) leaves a stored id alone (Optimizely's own SDK owns it too); an explicit vuid: false removes it; neither sends client_initialized", async () => {
    for (const [config, kept] of [
      [{}, true],
      [{ vuid: false }, false],
    ] as const) {
      const storage = memoryKeyValue();
      storage.map.set('optimizely-vuid', `vuid_${'a'.repeat(27)}`);
      const { client, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0 }, ...config }, { storage });
      expect(client.getVuid()).toBeNull();
      expect(storage.map.has('optimizely-vuid'), JSON.stringify(config)).toBe(kept);
      client.setOptOut(true); // a client that does not use the id leaves it alone when the user opts out, too
      expect(storage.map.has('optimizely-vuid'), JSON.stringify(config)).toBe(kept);
      await settle();
      expect(transport.calls).toHaveLength(0);
    }
  });

  it('no client_initialized when ODP is disabled or not integrated', async () => {
    for (const config of [{ datafile: datafile(), odp: { disabled: true } }, { datafile: {} }]) {
      const { transport, log } = makeClient({ ...config, vuid: true });
      await settle();
      expect(transport.calls).toHaveLength(0);
      expect(log.text()).not.toMatch(/client_initialized not sent/);
    }
  });
});

describe('client: user contexts', () => {
  it('before ready: null with a warning; the identify event that would have gone counts as sdkNotReady', () => {
    const { client, log } = makeClient({ sdkKey: 'k', vuid: true }, { storage: memoryKeyValue(), answers: ['hang'] });
    expect(client.createUserContext('user')).toBeNull();
    expect(log.text()).toMatch(/createUserContext: the datafile is not ready yet/);
    expect(client.stats().rejected).toEqual({ sdkNotReady: 1 });
    expect(client.createUserContext('')).toBeNull(); // no user: no identify event to count
    expect(client.createUserContext(5 as never)).toBeNull();
    expect(client.stats().rejected).toEqual({ sdkNotReady: 1 });
    const plain = makeClient({ sdkKey: 'k' }, { answers: ['hang'] });
    expect(plain.client.createUserContext('user')).toBeNull();
    expect(plain.client.createUserContext('')).toBeNull();
    expect(plain.client.stats().rejected).toEqual({});
  });

  it('a user id that is not a non-empty string: null, with an error', () => {
    const { client, log } = makeClient();
    expect(client.createUserContext('')).toBeNull();
    expect(client.createUserContext(5 as never)).toBeNull();
    expect(log.lines.filter((l) => l.message === '[odp-sdk] createUserContext: userId must be a non-empty string')).toHaveLength(2);
  });

  it('attributes are copied; attributes that are not an object are ignored with a warning', () => {
    const { client, log } = makeClient();
    const attributes = { plan: 'gold' };
    const user = client.createUserContext('u', attributes)!;
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([]);
    attributes.plan = 'changed';
    expect(user.attributes).toEqual({ plan: 'gold' });
    expect(user.userId).toBe('u');
    expect(client.createUserContext('u', 'x' as never)!.attributes).toEqual({});
    expect(log.lines).toContainEqual({ level: 'warn', message: '[odp-sdk] createUserContext: attributes must be an object' });
    expect(client.createUserContext('u')!.attributes).toEqual({});
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('with a visitor id: an identified event links the user and the visitor; without one, none', async () => {
    const { client, transport, log } = makeClient({ datafile: datafile(), vuid: true, odp: { flushIntervalMs: 0 } }, { storage: memoryKeyValue() });
    client.createUserContext('user-1');
    await settle();
    const events = transport.bodies().flat();
    expect(events.map((e) => [e.type, e.action, e.identifiers])).toContainEqual(['fullstack', 'identified', { fs_user_id: 'user-1', vuid: client.getVuid() }]);
    expect(client.createUserContext('user-2')).not.toBeNull(); // sent: still a context, and no warning
    expect(log.text()).not.toMatch(/identified not sent|createUserContext failed/);
    const plain = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0 } });
    plain.client.createUserContext('user-1');
    await settle();
    expect(plain.transport.calls).toHaveLength(0);
  });

  it('no identified event when ODP is disabled or not integrated', async () => {
    for (const config of [{ datafile: datafile(), odp: { disabled: true } }, { datafile: {} }]) {
      const { client, transport } = makeClient({ ...config, vuid: true }, { storage: memoryKeyValue() });
      expect(client.createUserContext('user-1')).not.toBeNull();
      await settle();
      expect(transport.calls).toHaveLength(0);
      expect(client.stats().rejected).toEqual({});
    }
  });

  it('an identified event that is refused is logged as a warning', async () => {
    const { client, log } = makeClient({ datafile: datafile(), vuid: true, odp: { queueSize: 1, flushIntervalMs: 60_000 } }, { storage: memoryKeyValue() });
    client.createUserContext('user-1');
    expect(log.lines).toContainEqual({ level: 'warn', message: '[odp-sdk] identified not sent: queue full (odp.queueSize 1)' });
  });

  it('fetches segments through the extension; without it (a page that did not add it), createUserContext is null with an error naming what to add', async () => {
    const asked: unknown[] = [];
    const service: SegmentsService = { configure() {}, fetch: async (...args) => (asked.push(args), ['s1']), close() {} };
    const configured: unknown[] = [];
    const factory: SegmentsFactory = (options) => {
      configured.push(options);
      return { ...service, configure: (odp) => void configured.push(odp) };
    };
    const { client } = makeClient({ datafile: datafile(), odp: { segmentsCacheSize: 5, segmentsCacheTimeoutMs: 6, requestTimeoutMs: 7 } }, { segments: factory });
    expect(configured).toEqual([
      { disabled: false, cacheSize: 5, cacheTimeoutMs: 6, requestTimeoutMs: 7 },
      { host: 'https://odp.test', publicKey: PUBLIC_KEY },
    ]);
    const user = client.createUserContext(`vuid_${'c'.repeat(27)}`)!;
    expect(await user.fetchQualifiedSegments({ ignoreCache: true })).toBe(true);
    expect(asked).toEqual([['vuid', `vuid_${'c'.repeat(27)}`, { ignoreCache: true, resetCache: false }]]);
    expect(user.qualifiedSegments).toEqual(['s1']);

    const bare = makeClient(undefined, { segments: null });
    expect(bare.client.createUserContext('u')).toBeNull();
    expect(bare.log.lines).toContainEqual({ level: 'error', message: '[odp-sdk] createUserContext needs the segments extension: odp-sdk/segments (script tag: odp-sdk.segments.min.js)' });
    expect(bare.client.stats().rejected).toEqual({}); // no identified event was attempted
  });

  it('the segments transport is its own, with room for 8 concurrent fetches; events get maxConcurrentRequests slots, and sockets for the slots a backlog may add', () => {
    const factory: SegmentsFactory = (_options, createTransport) => {
      createTransport();
      return { configure() {}, fetch: async () => null, close() {} };
    };
    const { transportsMade } = makeClient({ datafile: datafile(), odp: { maxConcurrentRequests: 3 } }, { segments: factory });
    expect(transportsMade).toEqual([{ maxSockets: 4 }, { maxSockets: 8 }]);
  });
});


describe('client: the order refusals are checked in', () => {
  it("each code wins over the next one in README's error-code table, where both apply", async () => {
    // Each row: a client and an event for which the row's code and the next row's both hold.
    const tooLarge = { action: 'a', identifiers: { fs_user_id: 'u' }, data: { big: 'x'.repeat(2_000) } };
    const bad = { type: 5, action: 5, identifiers: 5, data: 5 } as never;
    const full = () => {
      const rig = makeClient({ datafile: datafile(), odp: { queueSize: 1, flushIntervalMs: 0 } }, { logLevel: 'silent' });
      rig.transport.fallback = 'hang';
      rig.client.sendOdpEvent(event(0));
      return rig;
    };
    const order: string[] = [];
    const check = (code: string, result: { code: string } | null | undefined) => {
      expect(result?.code, code).toBe(code);
      order.push(code);
    };
    check('optedOut', makeClient({ sdkKey: 'k', optOut: true }, { answers: ['hang'], logLevel: 'silent' }).client.sendOdpEvent(event()));
    check('sdkNotReady', makeClient({ sdkKey: 'k', odp: { disabled: true } }, { answers: ['hang'], logLevel: 'silent' }).client.sendOdpEvent(bad));
    check('odpNotEnabled', makeClient({ datafile: { version: '4' }, odp: { disabled: true } }, { logLevel: 'silent' }).client.sendOdpEvent(bad));
    check('odpNotIntegrated', makeClient({ datafile: { version: '4' } }, { logLevel: 'silent' }).client.sendOdpEvent(bad));
    const valid = makeClient({ datafile: datafile(), odp: { maxEventBytes: 1_000 } }, { logLevel: 'silent' }).client;
    check('invalidIdentifiers', valid.sendOdpEvent(bad));
    check('invalidType', valid.sendOdpEvent({ type: 5, action: 5, identifiers: { fs_user_id: 'u' }, data: 5 } as never));
    check('invalidAction', valid.sendOdpEvent({ action: 5, identifiers: { fs_user_id: 'u' }, data: 5 } as never));
    check('invalidData', valid.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: { big: 'x'.repeat(2_000), bad: [] as never } }));
    const closing = full();
    void closing.client.close({ timeoutMs: 60_000 }); // the held event stays held until the deadline
    const tooLargeClosed = makeClient({ datafile: datafile(), odp: { maxEventBytes: 1_000 } }, { logLevel: 'silent' });
    void tooLargeClosed.client.close({ timeoutMs: 0 });
    check('eventTooLarge', tooLargeClosed.client.sendOdpEvent(tooLarge));
    check('closed', closing.client.sendOdpEvent(event(1)));
    // A full queue and a hook that would filter the event: queueFull (the hook is not even called).
    const fullFiltered = makeClient({ datafile: datafile(), odp: { queueSize: 1, flushIntervalMs: 0 }, beforeSend: (e) => (e.action === 'b' ? null : e) }, { logLevel: 'silent' });
    fullFiltered.transport.fallback = 'hang';
    fullFiltered.client.sendOdpEvent(event(0));
    check('queueFull', fullFiltered.client.sendOdpEvent({ action: 'b', identifiers: { fs_user_id: 'u' } }));
    check('filtered', makeClient({ datafile: datafile(), beforeSend: () => null }).client.sendOdpEvent(event()));
    check('beforeSendFailed', makeClient({ datafile: datafile(), beforeSend: () => undefined as never }).client.sendOdpEvent(event()));
    expect(order).toHaveLength(13);

    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('## Configuration'));
    const documented = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((match) => match[1]);
    expect(documented).toEqual(order);
  });
});

describe('client: refusals and listener errors reach the log at the default level', () => {

  it('each distinct refusal once at warn (a Date, a nested object, a hook that forgot to return, queueFull), then counted: one summary line a minute, no timer while idle', async () => {
    const { client, clock, log, transport } = makeClient(
      { datafile: datafile(), odp: { queueSize: 2, flushIntervalMs: 60_000 }, beforeSend: (e) => (e.action === 'forgot' ? (undefined as never) : e) },
      { logLevel: 'warn' },
    );
    transport.fallback = 'hang';
    const idle = clock.pending;
    for (let round = 0; round < 3; round++) {
      expect(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: { when: new Date(0) as never } })?.code).toBe('invalidData');
      expect(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: { cart: { items: 2 } as never } })?.code).toBe('invalidData');
      expect(client.sendOdpEvent({ action: 'forgot', identifiers: { fs_user_id: 'u' } })?.code).toBe('beforeSendFailed');
    }
    expect(clock.pending).toBe(idle + 1); // the summary timer, armed by the first repeat
    client.sendOdpEvent(event(1));
    client.sendOdpEvent(event(2));
    for (let i = 0; i < 1_000; i++) client.sendOdpEvent(event(i));
    expect(log.lines.map((l) => `${l.level}: ${l.message}`)).toEqual([
      `warn: [odp-sdk] event refused: invalidData: data.when must be a string, finite number, boolean or null, got a Date`,
      `warn: [odp-sdk] event refused: invalidData: data.cart must be a string, finite number, boolean or null, got an object`,
      `error: [odp-sdk] event refused: beforeSendFailed: beforeSend must return an event or null, got undefined`,
      `warn: [odp-sdk] event refused: queueFull: queue full (odp.queueSize 2)`,
    ]);
    expect(client.stats().rejected).toEqual({ invalidData: 6, beforeSendFailed: 3, queueFull: 1_000 });
    await clock.advance(59_999);
    expect(log.lines).toHaveLength(4);
    await clock.advance(1);
    expect(log.lines.at(-1)).toEqual({ level: 'warn', message: '[odp-sdk] 1005 more events refused (invalidData ×4, beforeSendFailed ×2, queueFull ×999)' });
    expect(clock.pending).toBe(idle); // no summary timer while there is nothing to summarise (the partial batch went too)
    await clock.advance(120_000);
    expect(log.lines).toHaveLength(5);
    // Counted again later: summarised again; close() says what was counted at once.
    client.sendOdpEvent(event(3));
    client.sendOdpEvent(event(3));
    void client.close({ timeoutMs: 0 });
    expect(log.lines.at(-1)).toEqual({ level: 'warn', message: '[odp-sdk] 2 more events refused (queueFull ×2)' });
  });

  it('sdkNotReady: one warning, then counted; optedOut and filtered (the host chose them) only at debug', async () => {
    const { client, log } = makeClient({ sdkKey: 'k' }, { answers: ['hang'], logLevel: 'warn' });
    for (let i = 0; i < 5; i++) client.sendOdpEvent(event(i));
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toEqual({ level: 'warn', message: '[odp-sdk] event refused: sdkNotReady: the datafile is not ready yet' });
    const chosen = makeClient({ datafile: datafile(), beforeSend: () => null }, { logLevel: 'info' });
    chosen.client.sendOdpEvent(event());
    chosen.client.setOptOut(true);
    chosen.client.sendOdpEvent(event());
    expect(chosen.log.lines.filter((l) => l.level !== 'info')).toEqual([]);
    expect(chosen.client.stats().rejected).toEqual({ filtered: 1, optedOut: 1 });
  });

  it('a listener that throws is logged at error, each distinct message once (bounded); the other listeners and delivery go on', async () => {
    const { client, log, transport } = makeClient({ datafile: datafile(), odp: { flushIntervalMs: 0 } }, { logLevel: 'warn' });
    let n = 0;
    client.on('delivered', () => {
      throw new Error('listener bug');
    });
    client.on('delivered', () => {
      throw { toString: () => `odd ${n++}` }; // not an Error, and a new message each time
    });
    const heard: number[] = [];
    client.on('delivered', ({ count }) => heard.push(count));
    transport.fallback = { status: 202 };
    for (let i = 0; i < 3; i++) {
      client.sendOdpEvent(event(i));
      await settle();
    }
    expect(heard).toEqual([1, 1, 1]);
    expect(client.stats().delivered).toBe(3);
    expect(log.lines.map((l) => `${l.level}: ${l.message}`)).toEqual([
      "error: [odp-sdk] a 'delivered' listener threw: listener bug",
      "error: [odp-sdk] a 'delivered' listener threw: odd 0",
      "error: [odp-sdk] a 'delivered' listener threw: odd 1",
      "error: [odp-sdk] a 'delivered' listener threw: odd 2",
    ]);
    for (let i = 0; i < 200; i++) {
      client.sendOdpEvent(event(i));
      await settle();
    }
    expect(log.lines.length).toBe(100); // bounded: the logger remembers at most 100 distinct messages
  });
});
