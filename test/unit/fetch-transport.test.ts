import { describe, expect, it, vi } from 'vitest';
import { createFetchTransport } from '../../src/transport/fetch-transport';
import { TransportError, type HttpRequest } from '../../src/transport/transport';

const post: HttpRequest = { method: 'POST', url: 'https://odp.test/v3/events', headers: { 'x-api-key': 'k' }, body: '[]', timeoutMs: 1_000, keepalive: true };

/** A fetch that records its calls and answers when the test says, or rejects when its signal aborts. */
function fakeFetch() {
  const calls: Array<{ url: string; init: RequestInit; answer: (response: Response) => void; fail: (error: unknown) => void }> = [];
  const fetchFn = ((url: string, init: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      calls.push({ url, init, answer: resolve, fail: reject });
      init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    })) as unknown as typeof fetch;
  return { calls, fetchFn };
}

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

describe('fetch transport', () => {
  it('passes the request to fetch (no credentials, keep-alive as asked) and reads status, headers and body', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { calls, fetchFn } = fakeFetch();
    const transport = createFetchTransport(fetchFn);
    const pending = transport.request(post);
    expect(calls).toHaveLength(1);
    const { url, init } = calls[0]!;
    expect(url).toBe(post.url);
    expect(init).toMatchObject({ method: 'POST', headers: { 'x-api-key': 'k' }, body: '[]', keepalive: true, credentials: 'omit' });
    expect(init.signal).toBeInstanceOf(AbortSignal);
    calls[0]!.answer(new Response('ok', { status: 202, headers: { 'retry-after': '5' } }));
    const response = await pending;
    expect(response.status).toBe(202);
    expect(response.body).toBe('ok');
    expect(response.header('retry-after')).toBe('5');
    expect(response.header('absent')).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0); // the timeout timer is cleared
  });

  it('no answer within timeoutMs: a timeout error, and the request is aborted', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { calls, fetchFn } = fakeFetch();
    const transport = createFetchTransport(fetchFn);
    const pending = failure(transport.request({ ...post, timeoutMs: 250 }));
    vi.advanceTimersByTime(249);
    expect(calls[0]!.init.signal!.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    const error = await pending;
    expect(error.kind).toBe('timeout');
    expect(error.name).toBe('TransportError');
    expect(error.message).toBe('no answer within 250 ms');
    expect(calls[0]!.init.signal!.aborted).toBe(true);
  });

  it('a fetch that never settles, even when aborted (Firefox, after a back/forward-cache restore), still ends at timeoutMs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const fetchFn = (() => new Promise<Response>(() => {})) as unknown as typeof fetch;
    const transport = createFetchTransport(fetchFn);
    const pending = failure(transport.request({ ...post, timeoutMs: 250 }));
    vi.advanceTimersByTime(250);
    expect((await pending).kind).toBe('timeout');
    const reading = failure(
      createFetchTransport((() => Promise.resolve({ status: 200, headers: new Headers(), text: () => new Promise(() => {}) })) as unknown as typeof fetch).request({ ...post, timeoutMs: 100 }),
    );
    await Promise.resolve();
    vi.advanceTimersByTime(100);
    expect((await reading).kind).toBe('timeout');
  });

  it('close() aborts what is in flight: an aborted error; later requests are unaffected', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { calls, fetchFn } = fakeFetch();
    const transport = createFetchTransport(fetchFn);
    const a = failure(transport.request(post));
    const b = failure(transport.request(post));
    transport.close();
    for (const error of await Promise.all([a, b])) {
      expect(error.kind).toBe('aborted');
      expect(error.message).toBe('request aborted');
    }
    const c = transport.request(post);
    transport.close();
    calls[2]!.answer(new Response('', { status: 200 }));
    expect((await failure(c)).kind).toBe('aborted');
    const d = transport.request(post);
    calls[3]!.answer(new Response('', { status: 200 }));
    expect((await d).status).toBe(200);
  });

  it('a finished request is forgotten: close() afterwards aborts nothing', async () => {
    const { calls, fetchFn } = fakeFetch();
    const transport = createFetchTransport(fetchFn);
    const done = transport.request(post);
    calls[0]!.answer(new Response('', { status: 200 }));
    await done;
    const signal = calls[0]!.init.signal!;
    transport.close();
    expect(signal.aborted).toBe(false);
  });

  it('fetch failing: a network error with its message, or a generic one', async () => {
    const { calls, fetchFn } = fakeFetch();
    const transport = createFetchTransport(fetchFn);
    const a = failure(transport.request(post));
    calls[0]!.fail(new TypeError('Failed to fetch'));
    expect(await a).toMatchObject({ kind: 'network', message: 'Failed to fetch' });
    const b = failure(transport.request(post));
    calls[1]!.fail(new TypeError(''));
    expect(await b).toMatchObject({ kind: 'network', message: 'network error' });
    const c = failure(transport.request(post));
    calls[2]!.fail(undefined);
    expect(await c).toMatchObject({ kind: 'network', message: 'network error' });
    transport.close();
  });

  it('a body that fails to read is a network error', async () => {
    const { calls, fetchFn } = fakeFetch();
    const transport = createFetchTransport(fetchFn);
    const pending = failure(transport.request(post));
    calls[0]!.answer({ status: 200, headers: new Headers(), text: () => Promise.reject(new Error('reset')) } as unknown as Response);
    expect(await pending).toMatchObject({ kind: 'network', message: 'reset' });
  });

  it("compression 'gzip': a plain request's body is gzipped (CompressionStream) with content-encoding; keep-alive, 'none' and no body go as they are", async () => {
    const { gunzipSync } = await import('node:zlib');
    const inits: RequestInit[] = [];
    const fetchFn = (async (_url: string, init: RequestInit) => (inits.push(init), new Response(null, { status: 204 }))) as unknown as typeof fetch;
    const transport = createFetchTransport(fetchFn);
    const body = JSON.stringify([{ action: 'é'.repeat(100) }]);
    await transport.request({ ...post, body, keepalive: false, compression: 'gzip' });
    expect(inits[0]!.headers).toEqual({ 'x-api-key': 'k', 'content-encoding': 'gzip' });
    expect(gunzipSync(Buffer.from(inits[0]!.body as ArrayBuffer)).toString('utf8')).toBe(body);
    await transport.request({ ...post, body, keepalive: true, compression: 'gzip' });
    expect(inits[1]).toMatchObject({ headers: { 'x-api-key': 'k' }, body });
    await transport.request({ ...post, body, keepalive: false, compression: 'none' });
    expect(inits[2]).toMatchObject({ headers: { 'x-api-key': 'k' }, body });
    await transport.request({ ...post, method: 'GET', body: undefined, keepalive: false, compression: 'gzip' });
    expect(inits[3]!.headers).toEqual({ 'x-api-key': 'k' });
    expect(inits[3]!.body).toBeUndefined();
    vi.stubGlobal('CompressionStream', undefined);
    await transport.request({ ...post, body, keepalive: false, compression: 'gzip' });
    expect(inits[4]).toMatchObject({ headers: { 'x-api-key': 'k' }, body });
  });

  it('the timer is clamped like every timer: a huge timeoutMs does not fire at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { calls, fetchFn } = fakeFetch();
    const pending = createFetchTransport(fetchFn).request({ ...post, timeoutMs: 2 ** 40 });
    vi.advanceTimersByTime(1);
    expect(calls[0]!.init.signal!.aborted).toBe(false);
    calls[0]!.answer(new Response('ok'));
    expect((await pending).status).toBe(200);
  });
});
