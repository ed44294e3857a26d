import { describe, expect, it } from 'vitest';
import { datafile, makeDatafileManager, settle } from './harness';

const good = JSON.stringify(datafile());

describe('DatafileManager', () => {
  it('a given datafile is taken synchronously; without an sdkKey nothing is fetched', () => {
    const { manager, taken, transport, log } = makeDatafileManager({ datafile: datafile() });
    manager.start();
    expect(taken).toHaveLength(1);
    expect(taken[0]!.odp).toEqual({ host: 'https://odp.test', publicKey: expect.any(String) });
    expect(transport.calls).toHaveLength(0);
    expect(log.lines).toEqual([]);
  });

  it('neither datafile nor sdkKey: an error, never ready', () => {
    const { manager, taken, log } = makeDatafileManager();
    manager.start();
    expect(taken).toEqual([]);
    expect(log.lines).toContainEqual({ level: 'error', message: '[odp-sdk] no datafile and no sdkKey: never ready' });
  });

  it('a bad given datafile is logged and not taken; a datafile without ODP is taken with a warning', () => {
    const bad = makeDatafileManager({ datafile: '{' });
    bad.manager.start();
    expect(bad.taken).toEqual([]);
    expect(bad.log.text()).toMatch(/^error: \[odp-sdk\] given datafile not taken: not valid JSON/m);
    const noOdp = makeDatafileManager({ datafile: {} });
    noOdp.manager.start();
    expect(noOdp.taken).toHaveLength(1);
    expect(noOdp.log.lines).toContainEqual({ level: 'warn', message: '[odp-sdk] ODP not integrated: no ODP integration with host and publicKey' });
  });

  it('fetches the sdkKey URL (encoded), then polls with conditional headers', async () => {
    const { manager, taken, transport, clock } = makeDatafileManager({ sdkKey: 'a/b', updateIntervalMs: 1_000, requestTimeoutMs: 321 });
    transport.answer({ status: 200, body: good, headers: { etag: 'E1', 'last-modified': 'M1' } }, { status: 304 }, { status: 200, body: good });
    manager.start();
    await settle();
    expect(transport.calls[0]!.request).toStrictEqual({ method: 'GET', url: 'https://cdn.test/a%2Fb.json', headers: {}, timeoutMs: 321 });
    expect(taken).toHaveLength(1);
    expect(clock.delays).toEqual([1_000]);
    await clock.advance(1_000);
    expect(transport.calls[1]!.request.headers).toEqual({ 'if-none-match': 'E1', 'if-modified-since': 'M1' });
    expect(taken).toHaveLength(1); // 304: nothing new
    await clock.advance(1_000);
    expect(taken).toHaveLength(2);
    expect(transport.calls).toHaveLength(3);
  });

  it('a given datafile serves at once and the sdkKey keeps it up to date', async () => {
    const { manager, taken, transport } = makeDatafileManager({ datafile: datafile(), sdkKey: 'k' });
    transport.answer({ status: 200, body: good });
    manager.start();
    expect(taken).toHaveLength(1);
    await settle();
    expect(taken).toHaveLength(2);
  });

  it('updateIntervalMs 0: fetched once, no polling', async () => {
    const { manager, transport, clock } = makeDatafileManager({ sdkKey: 'k', updateIntervalMs: 0 });
    transport.answer({ status: 200, body: good });
    manager.start();
    await settle();
    expect(clock.pending).toBe(0);
  });

  it('before the first datafile: failures are retried with backoff from 1 s to 30 s, capped by the interval', async () => {
    Math.random = () => 1;
    const { manager, transport, clock, log, taken } = makeDatafileManager({ sdkKey: 'k', updateIntervalMs: 0 });
    transport.fallback = { status: 500 };
    manager.start();
    await settle();
    for (let i = 0; i < 6; i++) await clock.runNext();
    expect(clock.delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    // The URL and the status, once at error level; the same failure again only at debug level.
    expect(log.lines.filter((line) => line.level === 'error')).toEqual([
      { level: 'error', message: '[odp-sdk] datafile https://cdn.test/k.json failed: status 500; retrying' },
    ]);
    expect(log.lines.filter((line) => line.level === 'debug')).toHaveLength(6);
    expect(manager.problem()).toBe('datafile https://cdn.test/k.json failed: status 500');
    transport.fallback = { status: 200, body: good };
    await clock.runNext();
    expect(taken).toHaveLength(1);
    expect(log.lines.at(-1)).toEqual({ level: 'info', message: '[odp-sdk] datafile https://cdn.test/k.json fetched after 7 failures' });

    const capped = makeDatafileManager({ sdkKey: 'k', updateIntervalMs: 1_500 });
    capped.transport.fallback = { error: 'network', message: 'down' };
    capped.manager.start();
    await settle();
    await capped.clock.runNext();
    expect(capped.clock.delays).toEqual([1_000, 1_500]);
    expect(capped.log.lines).toContainEqual({
      level: 'error',
      message: '[odp-sdk] datafile https://cdn.test/k.json failed: down; retrying',
    });
  });

  it('403 and 404 (a wrong key): one error line with the URL, the status and a hint, then a backoff up to 5 minutes; another failure is logged again', async () => {
    Math.random = () => 1;
    for (const status of [403, 404]) {
      const { manager, transport, clock, log } = makeDatafileManager({ sdkKey: 'wrong key', updateIntervalMs: 0 });
      transport.fallback = { status };
      manager.start();
      await settle();
      for (let i = 0; i < 12; i++) await clock.runNext();
      expect(clock.delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000, 300_000]);
      const url = 'https://cdn.test/wrong%20key.json';
      expect(log.lines.filter((line) => line.level !== 'debug')).toEqual([
        { level: 'error', message: `[odp-sdk] datafile ${url} failed: status ${status} (wrong sdkKey?); retrying` },
      ]);
      expect(manager.problem()).toBe(`datafile ${url} failed: status ${status} (wrong sdkKey?)`);
      // A different failure is news: logged in full again, and its own (shorter) backoff cap applies.
      transport.fallback = { error: 'network', message: 'connect ECONNREFUSED' };
      await clock.runNext();
      expect(log.lines.filter((line) => line.level === 'error')).toHaveLength(2);
      expect(log.lines.at(-1)!.message).toMatch(/failed: connect ECONNREFUSED; retrying/);
      expect(clock.delays.at(-1)).toBe(30_000);
      manager.stop();
    }
  });

  it('problem(): no answer yet, or no sdkKey at all', () => {
    const pending = makeDatafileManager({ sdkKey: 'k' });
    pending.transport.answer('hang');
    pending.manager.start();
    expect(pending.manager.problem()).toBe('no answer yet from https://cdn.test/k.json');
    const none = makeDatafileManager({ datafile: 'nope' });
    none.manager.start();
    expect(none.manager.problem()).toBe('no valid datafile given');
  });

  it('a fetched datafile that does not parse counts as a failure; the etag of a bad one is not kept', async () => {
    Math.random = () => 1;
    const { manager, transport, clock, log } = makeDatafileManager({ sdkKey: 'k', updateIntervalMs: 60_000 });
    transport.answer({ status: 200, body: 'nope', headers: { etag: 'BAD' } }, { status: 200, body: good });
    manager.start();
    await settle();
    expect(log.text()).toMatch(/error: \[odp-sdk\] datafile https:\/\/cdn\.test\/k\.json failed: not valid JSON/);
    expect(clock.delays).toEqual([1_000]);
    await clock.runNext();
    expect(transport.calls[1]!.request.headers).toStrictEqual({});
    expect(clock.delays).toEqual([1_000, 60_000]);
  });

  it('after a good datafile, a failed poll waits the interval', async () => {
    const { manager, transport, clock } = makeDatafileManager({ sdkKey: 'k', updateIntervalMs: 5_000 });
    transport.answer({ status: 200, body: good }, { status: 503 });
    manager.start();
    await settle();
    await clock.runNext();
    expect(clock.delays).toEqual([5_000, 5_000]);
  });

  it('stop() cancels the poll, and an answer arriving after stop is ignored', async () => {
    const { manager, transport, clock, taken } = makeDatafileManager({ sdkKey: 'k', updateIntervalMs: 1_000 });
    transport.answer({ status: 200, body: good }, 'hang');
    manager.start();
    await settle();
    await clock.advance(1_000);
    manager.stop();
    transport.calls[1]!.answer({ status: 200, body: good });
    await settle();
    expect(taken).toHaveLength(1);
    expect(clock.pending).toBe(0);

    // A poll that is waiting for its time is cancelled.
    const waiting = makeDatafileManager({ sdkKey: 'k', updateIntervalMs: 1_000 });
    waiting.transport.answer({ status: 200, body: good });
    waiting.manager.start();
    await settle();
    expect(waiting.clock.pending).toBe(1);
    waiting.manager.stop();
    expect(waiting.clock.pending).toBe(0);

    // Stopped by whoever took the datafile (a listener that closes the client): no poll scheduled.
    const closing = makeDatafileManager({ sdkKey: 'k', updateIntervalMs: 1_000 }, (manager) => manager.stop());
    closing.transport.answer({ status: 200, body: good });
    closing.manager.start();
    await settle();
    expect(closing.taken).toHaveLength(1);
    expect(closing.clock.pending).toBe(0);

    const failing = makeDatafileManager({ sdkKey: 'k' });
    failing.transport.answer('hang');
    failing.manager.start();
    failing.manager.stop();
    failing.transport.calls[0]!.answer({ error: 'aborted' });
    await settle();
    expect(failing.log.lines).toEqual([]);
    expect(failing.clock.pending).toBe(0);

    const stopped = makeDatafileManager({ sdkKey: 'k' });
    stopped.manager.stop();
    stopped.manager.start();
    await settle();
    expect(stopped.transport.calls).toHaveLength(0);
  });
});
