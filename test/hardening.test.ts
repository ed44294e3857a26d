// Review findings, each pinned by a deterministic test: a fake clock and a fake transport drive the
// real client (no sockets, no real waiting), except where the real Node timers are the point.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client } from '../src/client/odp-client';
import { Dispatcher, MAX_RETRY_AFTER_MS } from '../src/dispatcher/dispatcher';
import { Emitter } from '../src/core/emitter';
import { SafeLogger } from '../src/core/logger';
import { StatsTracker } from '../src/core/stats-tracker';
import { TransportError, type HttpRequest, type HttpResponse, type Transport } from '../src/transport/transport';
import type { OdpClient, OdpClientConfig } from '../src/types';
import type { Platform } from '../src/platform/platform';
import { captureLogger } from './support/helpers';

const KEY = 'W4WzcEs-ABgXorzY7h1LCQ';
const DATAFILE = { version: '4', integrations: [{ key: 'odp', host: 'https://odp.example', publicKey: KEY }] };

/** Timers that run only when the test advances the clock; `Date.now()` is not touched (the tests use no deadlines it would decide). */
class FakeClock {
  now = 0;
  private timers: Array<{ at: number; fn: () => void; ms: number }> = [];
  readonly delays: number[] = [];
  schedule = (fn: () => void, ms: number) => {
    const timer = { at: this.now + ms, fn, ms };
    this.delays.push(ms);
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((other) => other !== timer);
    };
  };
  get pending(): number {
    return this.timers.length;
  }
  /** Runs every timer due within `ms`, in time order, letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      await settle();
      const next = this.timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.now = next.at;
      next.fn();
    }
    this.now = until;
    await settle();
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** A transport whose answers the test scripts; `hold` keeps the next requests pending until released. */
class FakeTransport implements Transport {
  readonly requests: HttpRequest[] = [];
  answers: Array<Partial<HttpResponse> & { status: number; headers?: Record<string, string> }> = [];
  held: Array<(response: HttpResponse) => void> = [];
  hold = false;
  closed = 0;
  request(request: HttpRequest): Promise<HttpResponse> {
    this.requests.push(request);
    if (this.hold) return new Promise((resolve) => this.held.push(resolve));
    const answer = this.answers.shift() ?? { status: 202 };
    return Promise.resolve(response(answer.status, answer.headers));
  }
  close(): void {
    this.closed++;
  }
}

function response(status: number, headers: Record<string, string> = {}): HttpResponse {
  return { status, header: (name) => headers[name], body: '' };
}

function fakeClient(config: OdpClientConfig = {}) {
  const clock = new FakeClock();
  const transport = new FakeTransport();
  const platform: Platform = {
    createTransport: () => transport,
    schedule: clock.schedule,
    newId: () => crypto.randomUUID(),
    keepaliveBytes: 0,
  };
  const logger = captureLogger();
  const client = new Client({ datafile: DATAFILE, logger, logLevel: 'debug', ...config, odp: { batchSize: 10, flushIntervalMs: 0, ...config.odp } }, platform);
  const dropped: Array<{ reason: string; count: number }> = [];
  client.on('dropped', ({ reason, count }) => dropped.push({ reason, count }));
  return { client, clock, transport, logger, dropped };
}

function send(client: OdpClient, n: number): void {
  for (let i = 0; i < n; i++) assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: `u${i}` } }), null);
}

describe('review findings', { timeout: 60_000 }, () => {
  describe('Retry-After and timers', () => {
    test(`a Retry-After of a day is honoured only up to ${MAX_RETRY_AFTER_MS} ms`, async () => {
      const { client, clock, transport } = fakeClient();
      transport.answers = [{ status: 503, headers: { 'retry-after': '86400' } }];
      send(client, 1);
      await clock.advance(0);
      assert.equal(transport.requests.length, 1);
      assert.ok(clock.delays.includes(MAX_RETRY_AFTER_MS), `retry scheduled in ${clock.delays.join(', ')} ms`);
      await clock.advance(MAX_RETRY_AFTER_MS - 1);
      assert.equal(transport.requests.length, 1, 'not before the capped Retry-After');
      await clock.advance(1);
      assert.equal(transport.requests.length, 2);
      assert.equal(client.stats().delivered, 1);
    });

    test('a far-future HTTP-date Retry-After is capped the same way', async () => {
      const { client, clock, transport } = fakeClient();
      transport.answers = [{ status: 429, headers: { 'retry-after': new Date(Date.now() + 30 * 86_400_000).toUTCString() } }];
      send(client, 1);
      await clock.advance(0);
      assert.equal(Math.max(...clock.delays), MAX_RETRY_AFTER_MS);
    });

    test('closeTimeoutMs: 3e9 (past what timers hold) waits for delivery instead of dropping at once (real Node timers)', async () => {
      const { createInstance } = await import('../src/index');
      const { startCollector } = await import('../collector/src/collector');
      const collector = await startCollector({ apiKey: KEY, faults: { latencyMs: 100 } });
      try {
        const logger = captureLogger();
        const client = createInstance({ datafile: { version: '4', integrations: [{ key: 'odp', host: collector.url, publicKey: KEY }] }, closeTimeoutMs: 3e9, logger });
        send(client, 5);
        await client.close();
        assert.equal(client.stats().delivered, 5);
        assert.equal(client.stats().dropped, 0, logger.text());
      } finally {
        await collector.close();
      }
    });
  });

  describe('status classes', () => {
    for (const status of [501, 505, 511]) {
      test(`${status} is final: dropped as rejectedByServer after one request, not retried`, async () => {
        const { client, clock, transport, dropped } = fakeClient();
        transport.answers = [{ status }];
        send(client, 3);
        await clock.advance(60_000);
        assert.equal(transport.requests.length, 1);
        assert.deepEqual(dropped, [{ reason: 'rejectedByServer', count: 3 }]);
      });
    }

    test('502, 503 and 504 are still retried', async () => {
      const { client, clock, transport } = fakeClient();
      transport.answers = [{ status: 502 }, { status: 503 }, { status: 504 }];
      send(client, 1);
      await clock.advance(60_000);
      assert.equal(transport.requests.length, 4);
      assert.equal(client.stats().delivered, 1);
    });

    test('a 413 that answers after the close() deadline is dropped as closed, not split and sent', async () => {
      const { client, clock, transport, dropped } = fakeClient();
      transport.hold = true;
      send(client, 4);
      await clock.advance(0);
      assert.equal(transport.requests.length, 1);
      const closing = client.close({ timeoutMs: 1000 });
      await clock.advance(1000);
      transport.held.shift()!(response(413)); // the answer comes after the deadline (the fake ignores the abort)
      await closing;
      await clock.advance(60_000);
      assert.equal(transport.requests.length, 1, 'no half was sent after the deadline');
      assert.deepEqual(dropped, [{ reason: 'closed', count: 4 }]);
    });
  });

  describe('validation bounds the event as sent', () => {
    test('odp.maxEventBytes counts the vuid that is added to every event', async () => {
      const limit = 400;
      const { client } = fakeClient({ vuid: true, odp: { maxEventBytes: limit } });
      const vuid = client.getVuid()!;
      // Find the largest payload that fits without the vuid: with it, the same event is too large.
      let size = 0;
      for (let pad = 0; pad < limit; pad++) {
        const event = { type: 'fullstack', action: 'a', identifiers: { fs_user_id: 'u' }, data: { idempotence_id: crypto.randomUUID(), data_source_type: 'sdk', data_source: 'odp-sdk', data_source_version: '0.1.0', p: 'x'.repeat(pad) } };
        if (Buffer.byteLength(JSON.stringify(event)) > limit) break;
        size = pad;
      }
      const error = client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: { p: 'x'.repeat(size) } });
      assert.equal(error?.code, 'eventTooLarge', `vuid ${vuid} must count`);
      const withRoom = client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: { p: 'x'.repeat(size - vuid.length - 20) } });
      assert.equal(withRoom, null);
    });
  });

  describe('a hostile datafile never throws into the host', () => {
    const throwing = new Proxy(
      {},
      {
        get() {
          throw new Error('trap: get');
        },
        has() {
          throw new Error('trap: has');
        },
        ownKeys() {
          throw new Error('trap: ownKeys');
        },
        getOwnPropertyDescriptor() {
          throw new Error('trap: getOwnPropertyDescriptor');
        },
        getPrototypeOf() {
          throw new Error('trap: getPrototypeOf');
        },
      },
    );
    const cyclic: Record<string, unknown> = { version: '4', integrations: [{ key: 'odp', host: 'https://odp.example', publicKey: KEY }] };
    cyclic.self = cyclic;
    cyclic.typedAudiences = [{ id: '1', conditions: ['and', { type: 'third_party_dimension', name: 'odp.audiences', match: 'qualified', value: 'seg' }] }];
    (cyclic.typedAudiences as unknown[]).push(cyclic);
    const getterOnAudiences = {
      version: '4',
      integrations: [{ key: 'odp', host: 'https://odp.example', publicKey: KEY }],
      get typedAudiences() {
        throw new Error('getter: typedAudiences');
      },
      get audiences() {
        throw new Error('getter: audiences');
      },
    };
    const revokedProxy = Proxy.revocable({}, {});
    revokedProxy.revoke();
    const cases: Record<string, unknown> = { 'a proxy whose every trap throws': throwing, 'a cyclic datafile': cyclic, 'getters that throw on audiences': getterOnAudiences, 'a revoked proxy': revokedProxy.proxy };
    for (const [name, datafile] of Object.entries(cases)) {
      test(`${name}: createInstance, onReady and sendOdpEvent do not throw`, async () => {
        const { createInstance } = await import('../src/index');
        const logger = captureLogger();
        const client = createInstance({ datafile: datafile as object, logger });
        const ready = client.onReady({ timeoutMs: 50 }).then(
          () => 'ready',
          (error: Error) => `rejected: ${error.message}`,
        );
        assert.match(await ready, /^(ready|rejected: odp-sdk: no valid datafile and no sdkKey)$/);
        const result = client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' } });
        assert.ok(result === null || typeof result.code === 'string');
        await client.close({ timeoutMs: 0 });
      });
    }
  });

  describe('onReady and the dispatcher keep nothing alive', () => {
    test("onReady's timeout timer runs on the platform's clock and close() settles the promise and cancels it", async () => {
      const { client, clock } = fakeClient({ datafile: undefined, sdkKey: 'never' });
      const before = clock.pending;
      const ready = client.onReady({ timeoutMs: 60_000 }).then(
        () => 'ready',
        (error: Error) => error.message,
      );
      assert.equal(clock.pending, before + 1, 'the timeout is a platform timer (unref\'d in Node)');
      await client.close({ timeoutMs: 0 });
      assert.equal(await ready, 'odp-sdk: closed before ready');
      assert.equal(clock.pending, 0, 'no timer left behind');
    });

    test('the dispatcher keeps nothing of a batch once it was delivered', async () => {
      const { setFlagsFromString } = await import('node:v8');
      const { runInNewContext } = await import('node:vm');
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const clock = new FakeClock();
      const stats = new StatsTracker();
      const options = { maxConcurrentRequests: 2, requestTimeoutMs: 1000, maxRetries: 1, initialBackoffMs: 1, maxBackoffMs: 1, keepaliveBytes: 0 };
      const dispatcher = new Dispatcher(options, new FakeTransport(), clock.schedule, () => crypto.randomUUID(), stats, new SafeLogger(captureLogger(), 'silent'), new Emitter());
      const refs: Array<WeakRef<object>> = [];
      // In a function of its own, so that no variable of this test's frame holds an event.
      const fill = () =>
        Array.from({ length: 100 }, (_, i) => {
          const event = { type: 't', action: 'a', identifiers: { fs_user_id: `u${i}` }, data: { idempotence_id: '', big: 'x'.repeat(1000) + i } };
          refs.push(new WeakRef(event));
          stats.accept();
          return dispatcher.dispatch([event], { host: 'http://127.0.0.1:1', publicKey: 'k' });
        });
      await Promise.all(fill());
      await new Promise((resolve) => setTimeout(resolve, 0));
      gc();
      await new Promise((resolve) => setTimeout(resolve, 0));
      gc();
      const alive = refs.filter((ref) => ref.deref() !== undefined).length;
      assert.equal(stats.delivered, 100);
      assert.equal(alive, 0, `${alive} delivered events still reachable from the dispatcher`);
      assert.ok(dispatcher);
    });
  });
});
