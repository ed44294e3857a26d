import { describe, expect, it, vi } from 'vitest';
import { nodePlatform } from '../../src/platform/node/node-platform';
import type { ClientHandle } from '../../src/platform/platform';
import { workerPlatform } from '../../src/platform/worker/worker-platform';
import { captureLogger, datafile } from './harness';
import { SafeLogger } from '../../src/core/logger';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('worker platform', () => {
  it('fetch looked up per request, UUID v4 ids, no storage, no keep-alive budget, no lifecycle', async () => {
    expect(workerPlatform.newId()).toMatch(V4);
    expect(workerPlatform.newId()).not.toBe(workerPlatform.newId());
    expect(workerPlatform.storage).toBeUndefined();
    expect(workerPlatform.keepaliveBytes).toBe(0);
    expect(workerPlatform.attach).toBeUndefined();
    const transport = workerPlatform.createTransport({ maxSockets: 1 });
    const seen: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => (seen.push(url), new Response(null, { status: 204 })));
    const response = await transport.request({ method: 'GET', url: 'https://x.test/a', headers: {}, timeoutMs: 1_000 });
    expect(response.status).toBe(204);
    expect(seen).toEqual(['https://x.test/a']);
  });

  it('timers are unref\'d (Node/Bun objects, Deno numbers), clamped, cancellable; holdOpen keeps a referenced one', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    let ran = 0;
    workerPlatform.schedule(() => void ran++, 10);
    const cancel = workerPlatform.schedule(() => void (ran += 10), 10);
    cancel();
    workerPlatform.schedule(() => void (ran += 100), 2 ** 40);
    vi.advanceTimersByTime(10);
    expect(ran).toBe(1);
    vi.advanceTimersByTime(2 ** 31 - 11);
    expect(ran).toBe(101);
    vi.useRealTimers();

    const unrefd: unknown[] = [];
    const realSetTimeout = globalThis.setTimeout;
    const timeout = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      const timer = realSetTimeout(fn, ms);
      unrefd.push(timer);
      return timer;
    }) as typeof setTimeout);
    workerPlatform.schedule(() => {}, 1_000)();
    expect((unrefd[0] as NodeJS.Timeout).hasRef()).toBe(false);
    timeout.mockImplementation((() => 42) as never);
    const deno: number[] = [];
    vi.stubGlobal('Deno', { unrefTimer: (id: number) => deno.push(id) });
    workerPlatform.schedule(() => {}, 1);
    expect(deno).toEqual([42]);
    vi.stubGlobal('Deno', undefined);
    expect(() => workerPlatform.schedule(() => {}, 1)).not.toThrow();
    timeout.mockRestore();

    const kept: NodeJS.Timeout[] = [];
    const realSetInterval = globalThis.setInterval;
    const interval = vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms: number) => {
      const timer = realSetInterval(fn, ms);
      kept.push(timer);
      return timer;
    }) as typeof setInterval);
    const release = workerPlatform.holdOpen!();
    interval.mockRestore();
    expect(kept[0]!.hasRef()).toBe(true);
    release();
    expect((kept[0] as unknown as { _destroyed: boolean })._destroyed).toBe(true);
  });

  it('the worker entry point makes a ready client on the worker platform', async () => {
    const worker = await import('../../src/index.worker');
    expect(worker.SDK_BUILD).toBe('worker');
    const client = worker.createInstance({ datafile: datafile(), logger: captureLogger() });
    expect(client.isReady()).toBe(true);
    expect(await client.createUserContext('u')!.fetchQualifiedSegments()).toBe(true);
    await client.close({ timeoutMs: 0 });
  });
});

describe('node platform: the process lifecycle', () => {
  function handle(undelivered: () => number, flush: () => Promise<void> = () => new Promise(() => {})) {
    const log = captureLogger();
    const calls = { cut: 0, summarised: 0 };
    const client = {
      dispatcher: { flush },
      logger: new SafeLogger(log, 'warn'),
      closeTimeoutMs: 1_000,
      cutBatch: () => void calls.cut++,
      undelivered,
      summarise: () => void calls.summarised++,
    } as unknown as ClientHandle;
    return { client, log, calls };
  }
  const ours = (event: 'beforeExit' | 'exit', before: Function[]) => (process.listeners as (e: string) => Function[])(event).filter((l) => !before.includes(l)) as Array<() => void>;

  it('listeners on beforeExit and exit are added once for all clients and removed with the last', () => {
    const beforeExit = process.listeners('beforeExit');
    const exit = process.listeners('exit');
    const a = nodePlatform.attach!(handle(() => 0).client)!;
    const b = nodePlatform.attach!(handle(() => 0).client)!;
    expect(ours('beforeExit', beforeExit)).toHaveLength(1);
    expect(ours('exit', exit)).toHaveLength(1);
    a.settings({ host: 'h', publicKey: 'k' });
    a.queueChanged();
    a.detach();
    expect(ours('beforeExit', beforeExit)).toHaveLength(1);
    b.detach();
    expect(ours('beforeExit', beforeExit)).toHaveLength(0);
    expect(ours('exit', exit)).toHaveLength(0);
  });

  it('exit: one warning per client with undelivered events, naming the count; every client says what it refused', () => {
    const exit = process.listeners('exit');
    const busy = handle(() => 3);
    const idle = handle(() => 0);
    const a = nodePlatform.attach!(busy.client)!;
    const b = nodePlatform.attach!(idle.client)!;
    ours('exit', exit)[0]!();
    expect(busy.log.lines).toEqual([
      { level: 'warn', message: expect.stringMatching(/^\[odp-sdk\] 3 events were not delivered: the process exited first/) },
    ]);
    expect(idle.log.lines).toEqual([]);
    expect([busy.calls.summarised, idle.calls.summarised]).toEqual([1, 1]);
    a.detach();
    b.detach();
  });

  it('beforeExit: drains a client with undelivered events (cut batch, held open up to closeTimeoutMs); after a drain out of time, lets go', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const beforeExit = process.listeners('beforeExit');
    let left = 2;
    let deliver!: () => void;
    const slow = handle(() => left, () => new Promise<void>((resolve) => (deliver = resolve)));
    const idle = handle(() => 0);
    const a = nodePlatform.attach!(slow.client)!;
    const b = nodePlatform.attach!(idle.client)!;
    const listener = ours('beforeExit', beforeExit)[0]!;
    listener();
    expect(slow.calls.cut).toBe(1);
    expect(idle.calls.cut).toBe(0);
    expect(vi.getTimerCount()).toBe(2); // the deadline and the keep-alive interval
    listener(); // draining already: not again
    expect(slow.calls.cut).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(1); // out of time: still 2 left
    expect(vi.getTimerCount()).toBe(0);
    listener(); // gave up: the process may go
    expect(slow.calls.cut).toBe(1);
    a.detach();
    b.detach();

    const fast = handle(() => left, () => new Promise<void>((resolve) => (deliver = resolve)));
    const c = nodePlatform.attach!(fast.client)!;
    const again = ours('beforeExit', beforeExit)[0]!;
    again();
    left = 0;
    deliver();
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0); // delivered: the deadline is cancelled, the process released
    left = 1;
    again(); // delivered last time: a later beforeExit drains again
    expect(fast.calls.cut).toBe(2);
    c.detach();
  });
});
