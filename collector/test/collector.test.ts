import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { startCollector } from '../src/collector.js';
import type { Collector, CollectorOptions } from '../src/collector.js';

const API_KEY = 'W4WzcEs-ABgXorzY7h1LCQ';
const ROOT = new URL('..', import.meta.url);

function event(id: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'fullstack',
    action: 'purchased',
    identifiers: { fs_user_id: 'user123', email: 'jane@example.com' },
    data: { idempotence_id: id, data_source_type: 'sdk', data_source: 'odp-sdk', data_source_version: '0.1.0', ...extra },
  };
}

/** Starts a collector, runs fn, and always closes the collector. */
async function withCollector(options: CollectorOptions, fn: (c: Collector) => Promise<void>): Promise<void> {
  const collector = await startCollector(options);
  try {
    await fn(collector);
  } finally {
    await collector.close();
  }
}

/** POSTs a batch with a client-side timeout (a plain setTimeout abort, cleared on completion). */
async function post(c: Collector, body: unknown, init: { key?: string | null; type?: string; path?: string; timeoutMs?: number; encoding?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': init.type ?? 'application/json' };
  if (init.key !== null) headers['x-api-key'] = init.key ?? API_KEY;
  if (init.encoding !== undefined) headers['content-encoding'] = init.encoding;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), init.timeoutMs ?? 5000);
  try {
    return await fetch(c.url + (init.path ?? '/v3/events'), {
      method: 'POST',
      headers,
      // A Buffer is copied into a plain Uint8Array, which is what fetch's types accept.
      body: typeof body === 'string' ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body),
      signal: controller.signal,
    });
  } finally {
    clearTimeout(timer);
  }
}

describe('the dev collector', { timeout: 60_000 }, () => {
  test('a valid batch gets 202 and its events are recorded', async () => {
    const lines: string[] = [];
    await withCollector({ log: (line) => lines.push(line) }, async (c) => {
      assert.match(c.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await post(c, [event('a', { item: 'shirt', price: 50 }), event('b')]);
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      const body = (await res.json()) as { title: string; status: number; timestamp: string };
      assert.equal(body.title, 'Accepted');
      assert.equal(body.status, 202);
      assert.ok(!Number.isNaN(Date.parse(body.timestamp)));

      await c.waitForEvents(2, 1000);
      assert.deepEqual(c.events[0], event('a', { item: 'shirt', price: 50 }));
      assert.equal(c.batches.length, 1);
      assert.equal(c.batches[0]?.status, 202);
      assert.equal(c.batches[0]?.headers['x-api-key'], API_KEY);
      assert.deepEqual(JSON.parse(c.batches[0]?.body ?? ''), [event('a', { item: 'shirt', price: 50 }), event('b')]);

      assert.ok(lines.includes('event fullstack/purchased  fs_user_id=user123 email=jane@example.com  {item: "shirt", price: 50}'));
      const fromHttp = (await (await fetch(`${c.url}/events`)).json()) as unknown[];
      assert.equal(fromHttp.length, 2);
    });
  });

  test('a wrong or missing x-api-key gets 401 and nothing is recorded; the key is never logged', async () => {
    const lines: string[] = [];
    await withCollector({ apiKey: 'secret-key-123', log: (line) => lines.push(line) }, async (c) => {
      assert.equal((await post(c, [event('a')], { key: 'not-the-key' })).status, 401);
      assert.equal((await post(c, [event('a')], { key: null })).status, 401);
      assert.equal((await post(c, [event('a')], { key: 'secret-key-123' })).status, 202);
      assert.equal(c.events.length, 1);
      assert.deepEqual(
        c.batches.map((b) => b.status),
        [401, 401, 202],
      );
      assert.ok(lines.length > 0);
      assert.ok(lines.every((line) => !line.includes('secret-key-123') && !line.includes('not-the-key')));
    });
  });

  test('a malformed body gets 400 with a JSON message, a wrong content-type 415', async () => {
    await withCollector({}, async (c) => {
      const bad: Array<[unknown, RegExp]> = [
        ['{not json', /not valid JSON/],
        [event('a'), /JSON array/],
        [[{ type: 'fullstack', identifiers: {}, data: {} }], /event 0: "action"/],
        [[event('a'), { ...event('b'), identifiers: 'user123' }], /event 1: "identifiers"/],
        [[{ ...event('a'), data: null }], /"data"/],
        [[{ ...event('a'), identifiers: { fs_user_id: 5 } }], /identifier "fs_user_id"/],
      ];
      for (const [body, message] of bad) {
        const res = await post(c, body);
        assert.equal(res.status, 400);
        const answer = (await res.json()) as { status: number; message: string };
        assert.equal(answer.status, 400);
        assert.match(answer.message, message);
      }
      assert.equal((await post(c, [event('a')], { type: 'text/plain' })).status, 415);
      assert.equal((await post(c, [event('a')], { type: 'application/json; charset=utf-8' })).status, 202);
      assert.equal(c.events.length, 1);
    });
  });

  test('OPTIONS answers the CORS preflight', async () => {
    await withCollector({}, async (c) => {
      const res = await fetch(`${c.url}/v3/events`, {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:3000',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-api-key',
          'access-control-request-private-network': 'true',
        },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000');
      assert.equal(res.headers.get('access-control-allow-methods'), 'POST, GET, OPTIONS');
      assert.equal(res.headers.get('access-control-allow-headers'), 'content-type,x-api-key');
      assert.equal(res.headers.get('access-control-max-age'), '600');
      assert.equal(res.headers.get('access-control-allow-private-network'), 'true');

      const plain = await fetch(`${c.url}/v3/events`, { method: 'OPTIONS' });
      assert.equal(plain.headers.get('access-control-allow-origin'), '*');
      assert.equal(plain.headers.get('access-control-allow-headers'), 'content-type, x-api-key');
      assert.equal(plain.headers.get('access-control-allow-private-network'), null);
      assert.equal(c.stats().preflights, 2);
    });
  });

  test('the datafile points ODP at the collector and supports ETag / Last-Modified', async () => {
    await withCollector({ apiKey: 'my-public-key' }, async (c) => {
      const res = await fetch(`${c.url}/datafiles/AnySdkKey.json`);
      assert.equal(res.status, 200);
      const datafile = (await res.json()) as { sdkKey: string; integrations: Array<{ key: string; host: string; publicKey: string }> };
      assert.equal(datafile.sdkKey, 'AnySdkKey');
      assert.deepEqual(datafile.integrations, [{ key: 'odp', host: c.url, publicKey: 'my-public-key' }]);
      const etag = res.headers.get('etag');
      const lastModified = res.headers.get('last-modified');
      assert.ok(etag !== null && lastModified !== null);

      const again = await fetch(`${c.url}/datafiles/AnySdkKey.json`);
      assert.equal(again.headers.get('etag'), etag, 'the ETag is stable');
      await again.arrayBuffer();

      const byEtag = await fetch(`${c.url}/datafiles/AnySdkKey.json`, { headers: { 'if-none-match': etag } });
      assert.equal(byEtag.status, 304);
      assert.equal(await byEtag.text(), '');
      const byDate = await fetch(`${c.url}/datafiles/AnySdkKey.json`, { headers: { 'if-modified-since': lastModified } });
      assert.equal(byDate.status, 304);
      await byDate.arrayBuffer();

      c.setDatafile('AnySdkKey', '{broken');
      const changed = await fetch(`${c.url}/datafiles/AnySdkKey.json`, { headers: { 'if-none-match': etag } });
      assert.equal(changed.status, 200);
      assert.equal(await changed.text(), '{broken');
      assert.notEqual(changed.headers.get('etag'), etag);
      const sinceOld = await fetch(`${c.url}/datafiles/AnySdkKey.json`, { headers: { 'if-modified-since': lastModified } });
      assert.equal(sinceOld.status, 200, 'a newer override is newer than the old Last-Modified');
      await sinceOld.arrayBuffer();

      c.setDatafile('Other', { integrations: [] });
      assert.deepEqual(await (await fetch(`${c.url}/datafiles/Other.json`)).json(), { integrations: [] });
      assert.equal(c.stats().datafileRequests, 7);
    });
  });

  test('fault: status answers every request, with Retry-After', async () => {
    await withCollector({ faults: { status: 503, retryAfter: '7' } }, async (c) => {
      const res = await post(c, [event('a')]);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '7');
      assert.equal(((await res.json()) as { status: number }).status, 503);
      assert.equal(c.events.length, 0);
      assert.equal(c.stats().requests, 1);
      assert.equal(c.stats().accepted, 0);

      c.setFaults({});
      const ok = await post(c, [event('a')]);
      assert.equal(ok.status, 202);
      assert.equal(ok.headers.get('retry-after'), null);
    });
  });

  test('fault: failRate=1 answers failStatus; faults can be set over HTTP', async () => {
    await withCollector({ faults: { failRate: 1, failStatus: 429 } }, async (c) => {
      assert.equal((await post(c, [event('a')])).status, 429);
      const setByHttp = await fetch(`${c.url}/control/faults`, { method: 'POST', body: JSON.stringify({ failRate: 1 }) });
      assert.equal(setByHttp.status, 200);
      assert.equal((await post(c, [event('a')])).status, 500, 'failStatus defaults to 500');
      const typo = await fetch(`${c.url}/control/faults`, { method: 'POST', body: JSON.stringify({ failrate: 0 }) });
      assert.equal(typo.status, 400);
      assert.throws(() => c.setFaults({ failRate: 2 }), /failRate/);
      await fetch(`${c.url}/control/faults`, { method: 'POST', body: '{}' });
      assert.equal((await post(c, [event('a')])).status, 202);
      assert.deepEqual(
        c.batches.map((b) => b.status),
        [429, 500, 202],
      );
    });
  });

  test('fault: resetRate=1 destroys the connection (a network error, no answer)', async () => {
    await withCollector({ faults: { resetRate: 1 } }, async (c) => {
      await assert.rejects(post(c, [event('a')], { timeoutMs: 3000 }), (error: Error) => {
        assert.notEqual(error.name, 'AbortError', 'the client saw the reset, not its own timeout');
        return true;
      });
      assert.equal(c.events.length, 0);
      assert.equal(c.batches[0]?.status, 0);
      assert.equal(c.stats().requests, 1);
    });
  });

  test('fault: latency delays the answer', async () => {
    await withCollector({ faults: { latencyMs: 150 } }, async (c) => {
      const started = Date.now();
      assert.equal((await post(c, [event('a')])).status, 202);
      assert.ok(Date.now() - started >= 140, `answered after ${Date.now() - started} ms`);
    });
  });

  test('fault: maxBodyBytes answers 413 to larger bodies', async () => {
    await withCollector({ faults: { maxBodyBytes: 300 } }, async (c) => {
      assert.equal((await post(c, [event('a')])).status, 202);
      const big = await post(c, [event('b', { note: 'x'.repeat(400) })]);
      assert.equal(big.status, 413);
      assert.match(((await big.json()) as { message: string }).message, /maxBodyBytes 300/);
      assert.equal(c.events.length, 1);
    });
  });

  test('a gzip body is decompressed and counted by its wire size; broken gzip gets 400, other encodings 415', async () => {
    await withCollector({}, async (c) => {
      const batch = Array.from({ length: 20 }, (_, i) => event(`gz-${i}`, { item: 'shirt', price: i }));
      const json = JSON.stringify(batch);
      const gz = gzipSync(json);
      assert.ok(gz.length < Buffer.byteLength(json) / 2, 'the test body compresses');

      assert.equal((await post(c, gz, { encoding: 'gzip' })).status, 202);
      assert.deepEqual(c.events, batch);
      assert.equal(c.batches[0]?.body, json, 'batches hold the decompressed text');
      assert.equal(c.batches[0]?.bytes, gz.length);
      assert.equal(c.stats().bytes, gz.length);

      const broken = await post(c, Buffer.from('not gzip at all'), { encoding: 'gzip' });
      assert.equal(broken.status, 400);
      assert.match(((await broken.json()) as { message: string }).message, /gzip/);
      const brotli = await post(c, gz, { encoding: 'br' });
      assert.equal(brotli.status, 415);
      assert.match(((await brotli.json()) as { message: string }).message, /content-encoding "br"/);
      assert.equal(c.events.length, 20, 'refused bodies add no events');
      assert.equal(c.stats().bytes, gz.length * 2 + Buffer.byteLength('not gzip at all'));

      // maxBodyBytes limits what travels: the gzip body fits, the same batch uncompressed does not.
      c.setFaults({ maxBodyBytes: gz.length });
      assert.equal((await post(c, gz, { encoding: 'gzip' })).status, 202);
      assert.equal((await post(c, json)).status, 413);
    });
  });

  test('fault: hang never answers until the client gives up', async () => {
    await withCollector({ faults: { hang: true } }, async (c) => {
      await assert.rejects(post(c, [event('a')], { timeoutMs: 200 }), { name: 'AbortError' });
      assert.equal(c.batches[0]?.status, 0);
      assert.equal(c.events.length, 0);
    });
  });

  test('graphql answers Real-Time Segments queries', async () => {
    const segments = { user123: ['has_email'] };
    await withCollector({ segments }, async (c) => {
      const query = 'query($userId: String, $audiences: [String]) {customer(fs_user_id: $userId) {audiences(subset: $audiences) {edges {node {name state}}}}}';
      const ask = (userId: string, key: string | null = API_KEY) =>
        post(c, { query, variables: { userId, audiences: ['has_email', 'cart_abandoner'] } }, { path: '/v3/graphql', key });

      const known = await ask('user123');
      assert.equal(known.status, 200);
      assert.deepEqual(await known.json(), {
        data: {
          customer: {
            audiences: {
              edges: [{ node: { name: 'has_email', state: 'qualified' } }, { node: { name: 'cart_abandoner', state: 'not_qualified' } }],
            },
          },
        },
      });

      const unknown = await ask('nobody');
      assert.deepEqual(await unknown.json(), {
        errors: [
          {
            message: 'Exception while fetching data (/customer) : java.lang.RuntimeException: could not resolve _fs_user_id = nobody',
            extensions: { classification: 'DataFetchingException' },
          },
        ],
        data: { customer: null },
      });
      assert.equal((await ask('user123', 'wrong')).status, 401);
      assert.equal((await post(c, { query }, { path: '/v3/graphql' })).status, 400);
      assert.equal(c.stats().graphqlRequests, 4);
    });
  });

  test('stats count requests, duplicates and peak open connections; reset clears them', async () => {
    await withCollector({ faults: { latencyMs: 100 } }, async (c) => {
      const answers = await Promise.all([0, 1, 2, 3, 4].map((i) => post(c, [event(`id-${i}`), event('same')])));
      assert.deepEqual(
        answers.map((r) => r.status),
        [202, 202, 202, 202, 202],
      );
      const stats = c.stats();
      assert.equal(stats.requests, 5);
      assert.equal(stats.accepted, 5);
      assert.equal(stats.events, 10);
      assert.equal(stats.distinctIds, 6);
      assert.equal(stats.duplicates, 4);
      assert.ok(stats.maxOpenConnections >= 5, `maxOpenConnections ${stats.maxOpenConnections}`);
      assert.ok(stats.openConnections >= 1 && stats.openConnections <= stats.maxOpenConnections);
      assert.deepEqual(await (await fetch(`${c.url}/stats`)).json(), { ...c.stats() });

      const reset = await fetch(`${c.url}/control/reset`, { method: 'POST' });
      assert.equal(reset.status, 200);
      await reset.arrayBuffer();
      assert.equal(c.events.length, 0);
      assert.equal(c.batches.length, 0);
      assert.equal(c.stats().requests, 0);
      assert.equal(c.stats().duplicates, 0);
      assert.equal((await fetch(`${c.url}/nowhere`)).status, 404);
    });
  });

  test('waitForEvents rejects with a clear error after its timeout', async () => {
    await withCollector({}, async (c) => {
      await post(c, [event('a')]);
      await c.waitForEvents(1, 100);
      await assert.rejects(c.waitForEvents(3, 100), /waitForEvents\(3\): only 1 event\(s\) arrived within 100 ms/);
      const pending = c.waitForEvents(2, 2000);
      await post(c, [event('b')]);
      await pending;
    });
  });

  test('close() destroys open sockets and frees the port', async () => {
    const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = servers();
    const c = await startCollector({ faults: { latencyMs: 60_000 } });
    assert.equal(servers(), before + 1);
    const slow = post(c, [event('a')], { timeoutMs: 10_000 }).catch((error: Error) => error);
    while (c.stats().requests === 0) await new Promise((r) => setTimeout(r, 10));
    const waiting = c.waitForEvents(1, 10_000).catch((error: Error) => error);
    await c.close();
    assert.ok((await slow) instanceof Error, 'the in-flight request ended when the collector closed');
    assert.match(String(await waiting), /closed/);
    assert.equal(c.stats().openConnections, 0);
    await new Promise((r) => setImmediate(r)); // libuv finishes closing the listening handle on the next loop turn
    assert.equal(servers(), before);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(c.port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(true));
    });
    assert.ok(refused, 'the port no longer accepts connections');
    await c.close(); // closing twice is fine
  });

  interface StreamMessage {
    event: string;
    data: any; // JSON that each test picks apart
  }

  /** Opens the inspector's event stream; next() resolves with one message, or null once the stream has ended. */
  async function openStream(c: Collector) {
    const controller = new AbortController();
    const res = await fetch(`${c.url}/inspector/stream`, { signal: controller.signal });
    assert.ok(res.body);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const next = async (): Promise<StreamMessage | null> => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) return { event, data: JSON.parse(data) };
          continue; // the `retry:` preamble
        }
        const chunk = await reader.read();
        if (chunk.done) return null;
        buffer += chunk.value;
      }
    };
    return { res, next, abort: () => controller.abort() };
  }

  test('the inspector page is served with a CSP that allows only its own script and style', async () => {
    await withCollector({}, async (c) => {
      const res = await fetch(`${c.url}/`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
      const html = await res.text();
      const csp = res.headers.get('content-security-policy') ?? '';
      const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
      const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? '';
      const style = /<style>([\s\S]*)<\/style>/.exec(html)?.[1] ?? '';
      assert.match(csp, new RegExp(`script-src ${hash(script).replace(/[+/]/g, '\\$&')}`));
      assert.match(csp, new RegExp(`style-src ${hash(style).replace(/[+/]/g, '\\$&')}`));
      assert.match(html, /<label for="filter">Filter events<\/label>/);
    });
  });

  test('the inspector stream replays recent requests, then sends each request, fault change and reset; retries are counted by id', { timeout: 15_000 }, async () => {
    await withCollector({ faults: { status: 500 } }, async (c) => {
      const batch = [event('a', { item: 'hat' }), event('b')];
      assert.equal((await post(c, batch)).status, 500);
      c.setFaults({});
      const gz = gzipSync(JSON.stringify(batch));
      assert.equal((await post(c, gz, { encoding: 'gzip' })).status, 202);

      const stream = await openStream(c);
      try {
        assert.equal(stream.res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
        const hello = await stream.next();
        assert.equal(hello?.event, 'hello');
        assert.deepEqual(hello.data.faults, {});
        const [refused, retried] = hello.data.requests;
        assert.equal(hello.data.requests.length, 2);
        assert.equal(refused.status, 500);
        assert.equal(refused.note, 'status fault');
        assert.deepEqual(
          refused.events.map((e: { action: string; id: string; attempt: number }) => [e.action, e.id, e.attempt]),
          [['purchased', 'a', 1], ['purchased', 'b', 1]],
        );
        assert.deepEqual(refused.events[0].identifiers, { fs_user_id: 'user123', email: 'jane@example.com' });
        assert.deepEqual(refused.events[0].data, { item: 'hat' }, "the SDK's own keys are left out of data");
        assert.equal(retried.status, 202);
        assert.equal(retried.encoding, 'gzip');
        assert.equal(retried.bytes, gz.length);
        assert.deepEqual(retried.events.map((e: { attempt: number }) => e.attempt), [2, 2]);
        const { events, rejected, duplicates, bytes } = hello.data.stats;
        assert.deepEqual({ events, rejected, duplicates, bytes }, { events: 2, rejected: 1, duplicates: 0, bytes: refused.bytes + gz.length });

        assert.equal((await post(c, [event('a')])).status, 202); // accepted twice now: a duplicate
        const live = await stream.next();
        assert.equal(live?.event, 'request');
        assert.equal(live.data.request.events[0].attempt, 3);
        assert.equal(live.data.stats.duplicates, 1);
        assert.equal(live.data.stats.events, 3);

        c.setFaults({ status: 429, retryAfter: '2' });
        assert.deepEqual(await stream.next(), { event: 'faults', data: { status: 429, retryAfter: '2' } });
        assert.equal((await fetch(`${c.url}/control/reset`, { method: 'POST' })).status, 200);
        const reset = await stream.next();
        assert.equal(reset?.event, 'reset');
        assert.equal(reset.data.stats.events, 0);
        assert.equal((await post(c, [event('a')])).status, 429);
        const after = await stream.next();
        assert.equal(after?.data.request.events[0].attempt, 1, 'a reset forgets the ids seen');
        assert.equal(after?.data.stats.rejected, 1);
      } finally {
        stream.abort();
      }
    });
  });

  test('close() ends open inspector streams and finishes at once', { timeout: 10_000 }, async () => {
    const c = await startCollector();
    const streams = await Promise.all([openStream(c), openStream(c)]);
    for (const stream of streams) assert.equal((await stream.next())?.event, 'hello');
    const started = Date.now();
    await c.close();
    assert.ok(Date.now() - started < 1000, `close() took ${Date.now() - started} ms`);
    for (const stream of streams) assert.equal(await stream.next(), null, 'the stream ended');
    assert.equal(c.stats().openConnections, 0);
  });

  /** Runs plain node in `cwd`; resolves with exit code and output (killed after 60 s). */
  function runIn(cwd: string, args: string[]) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Runs node with tsx; resolves with exit code and output, killing the child if it outlives timeoutMs. */
  function runNode(args: string[], timeoutMs: number, onStdout?: (text: string, kill: () => void) => void) {
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        onStdout?.(stdout, () => child.kill('SIGTERM'));
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  test('after close() nothing keeps Node alive (hung and delayed requests and an inspector stream included)', async () => {
    const script = `
      import { startCollector } from './src/collector.ts';
      const c = await startCollector({ faults: { hang: true } });
      const send = () => fetch(c.url + '/v3/events', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'W4WzcEs-ABgXorzY7h1LCQ' }, body: '[]' }).then(() => 'answered', () => 'failed');
      const stream = await fetch(c.url + '/inspector/stream');
      const watched = stream.body.pipeTo(new WritableStream()).then(() => 'ended', () => 'cut');
      const hung = send();
      while (c.stats().requests < 1) await new Promise((r) => setTimeout(r, 10));
      c.setFaults({ latencyMs: 60000 });
      const delayed = send();
      while (c.stats().requests < 2) await new Promise((r) => setTimeout(r, 10));
      await c.close();
      console.log(await hung, await delayed, await watched);
    `;
    const started = Date.now();
    const result = await runNode(['--input-type=module', '-e', script], 15_000);
    assert.equal(result.signal, null, `the process had to be killed: ${result.stderr}`);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'failed failed ended');
    assert.ok(Date.now() - started < 10_000);
  });

  test('the CLI prints its listening line and exits cleanly on SIGTERM', async () => {
    let url = '';
    let statsOk = false;
    const result = await runNode(['src/cli.ts', '--port', '0', '--quiet', '--status', '503'], 15_000, (stdout, kill) => {
      const match = /odp collector listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1] === undefined || url !== '') return;
      url = match[1];
      fetch(`${url}/stats`)
        .then((res) => res.json())
        .then((stats) => {
          statsOk = (stats as { requests: number }).requests === 0;
        })
        .finally(kill);
    });
    assert.notEqual(url, '', result.stdout + result.stderr);
    assert.ok(statsOk);
    assert.equal(result.signal, null);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /odp collector stopped \(SIGTERM\)/);
  });

  test('records are bounded by maxRecords (the newest kept); the counters and waitForEvents count everything', async () => {
    await withCollector({ maxRecords: 10 }, async (c) => {
      for (let i = 0; i < 30; i++) assert.equal((await post(c, [event(`id-${i}`)])).status, 202);
      await c.waitForEvents(30, 1000); // counted, although only the newest are kept
      assert.ok(c.events.length >= 10 && c.events.length <= 11, String(c.events.length));
      assert.equal(c.events.at(-1)!.data.idempotence_id, 'id-29');
      assert.ok(c.batches.length >= 10 && c.batches.length <= 11, String(c.batches.length));
      assert.equal(JSON.parse(c.batches.at(-1)!.body)[0].data.idempotence_id, 'id-29');
      assert.equal(((await (await fetch(`${c.url}/events`)).json()) as unknown[]).length, c.events.length);
      assert.deepEqual({ events: c.stats().events, requests: c.stats().requests, distinctIds: c.stats().distinctIds }, { events: 30, requests: 30, distinctIds: 30 });
      // A recent id again is a duplicate; an id long forgotten counts as new (documented).
      await post(c, [event('id-29'), event('id-0')]);
      assert.deepEqual({ duplicates: c.stats().duplicates, distinctIds: c.stats().distinctIds }, { duplicates: 1, distinctIds: 31 });
      for (let i = 0; i < 30; i++) await post(c, { query: 'q', variables: { userId: 'u', audiences: [] } }, { path: '/v3/graphql' });
      assert.ok(c.graphql.length <= 11, String(c.graphql.length));
    });
    await assert.rejects(startCollector({ maxRecords: 0 }), /maxRecords must be an integer >= 1/);
  });

  test('the inspector remembers a bounded number of ids for retry ×N: the recent ones', async () => {
    await withCollector({ maxRecords: 10 }, async (c) => {
      for (let i = 0; i < 40; i++) await post(c, [event(`id-${i}`)]);
      await post(c, [event('id-39'), event('id-0')]);
      const stream = await openStream(c);
      const hello = (await stream.next())!.data as { requests: Array<{ events: Array<{ id: string; attempt: number }> }> };
      assert.deepEqual(hello.requests.at(-1)!.events.map((e) => [e.id, e.attempt]), [['id-39', 2], ['id-0', 1]]);
      stream.abort();
    });
  });

  /** The CLI with args, until `ready` has what it needs from its URL; then SIGTERM. */
  async function withCli(args: string[], ready: (url: string) => Promise<void>) {
    let failure: unknown;
    let url = '';
    const result = await runNode(['src/cli.ts', '--port', '0', '--quiet', ...args], 30_000, (stdout, kill) => {
      const match = /odp collector listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1] === undefined || url !== '') return;
      url = match[1];
      ready(url).catch((error: unknown) => (failure = error)).finally(kill);
    });
    assert.notEqual(url, '', result.stdout + result.stderr);
    if (failure) throw failure;
    assert.equal(result.code, 0, result.stderr);
  }

  test('the CLI without --segments answers the example users (the README\'s segments example), and keeps 10,000 records by default', async () => {
    await withCli([], async (url) => {
      const query = 'query($userId: String, $audiences: [String]) {customer(fs_user_id: $userId) {audiences(subset: $audiences) {edges {node {name state}}}}}';
      const ask = async (userId: string) => {
        const res = await fetch(`${url}/v3/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
          body: JSON.stringify({ query, variables: { userId, audiences: ['has_email', 'cart_abandoner'] } }),
        });
        const body = (await res.json()) as { data: { customer: { audiences: { edges: Array<{ node: { name: string; state: string } }> } } } };
        return body.data.customer.audiences.edges.filter((edge) => edge.node.state === 'qualified').map((edge) => edge.node.name);
      };
      assert.deepEqual(await ask('user123'), ['has_email']);
      assert.deepEqual(await ask('user100'), ['has_email', 'cart_abandoner']);
      // 12,000 events in 12 requests: GET /events holds the newest 10,000 (+ at most a tenth), the counters all.
      for (let r = 0; r < 12; r++) {
        const batch = Array.from({ length: 1_000 }, (_, i) => event(`cli-${r}-${i}`));
        const res = await fetch(`${url}/v3/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: JSON.stringify(batch) });
        assert.equal(res.status, 202);
      }
      const kept = (await (await fetch(`${url}/events`)).json()) as Array<{ data: { idempotence_id: string } }>;
      assert.ok(kept.length >= 10_000 && kept.length <= 11_000, String(kept.length));
      assert.equal(kept.at(-1)!.data.idempotence_id, 'cli-11-999');
      assert.equal(((await (await fetch(`${url}/stats`)).json()) as { events: number }).events, 12_000);
    });
    await withCli(['--max-records', '5'], async (url) => {
      for (let r = 0; r < 10; r++) {
        await fetch(`${url}/v3/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: JSON.stringify([event(`m-${r}`)]) });
      }
      const kept = (await (await fetch(`${url}/events`)).json()) as unknown[];
      assert.ok(kept.length <= 5, String(kept.length));
    });
  });

  test('the committed bin runs the CLI: it builds dist/ first when it is missing or older than src/ (a fresh clone), and is what npm links', async () => {
    // npm links the workspace's bin into node_modules/.bin at install time, before any build: the
    // link must point at the committed shim (a link to dist/cli.js would not exist in a fresh clone).
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { bin: Record<string, string>; files: string[] };
    assert.deepEqual(pkg.bin, { 'odp-sdk-collector': './bin/odp-sdk-collector.js' });
    assert.ok(pkg.files.includes('bin'), 'the bin is published');
    const linked = join(fileURLToPath(ROOT), '..', 'node_modules', '.bin', 'odp-sdk-collector');
    assert.ok(existsSync(linked), 'npm install linked node_modules/.bin/odp-sdk-collector');
    assert.equal(realpathSync(linked), realpathSync(fileURLToPath(new URL('bin/odp-sdk-collector.js', ROOT))));

    // A copy of the package as a fresh clone has it: no dist/. TypeScript and @types/node from the repository's install.
    const copy = mkdtempSync(join(tmpdir(), 'odp-collector-bin-'));
    try {
      for (const entry of ['package.json', 'tsconfig.json', 'bin', 'src']) cpSync(fileURLToPath(new URL(entry, ROOT)), join(copy, entry), { recursive: true });
      mkdirSync(join(copy, 'node_modules', '@types'), { recursive: true });
      const modules = join(fileURLToPath(ROOT), '..', 'node_modules');
      symlinkSync(join(modules, 'typescript'), join(copy, 'node_modules', 'typescript'), 'dir');
      symlinkSync(join(modules, '@types', 'node'), join(copy, 'node_modules', '@types', 'node'), 'dir');
      const help = () => runIn(copy, [join(copy, 'bin', 'odp-sdk-collector.js'), '--help']);
      const first = await help();
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^Usage: odp-sdk-collector/);
      assert.match(first.stderr, /building the collector/);
      assert.ok(existsSync(join(copy, 'dist', 'cli.js')));
      const second = await help();
      assert.equal(second.code, 0, second.stderr);
      assert.doesNotMatch(second.stderr, /building/, 'an up-to-date build is not built again');
      const later = new Date(Date.now() + 60_000);
      utimesSync(join(copy, 'src', 'cli.ts'), later, later);
      assert.match((await help()).stderr, /building the collector/, 'a source newer than the build is built');
      // As published: dist/ and no src/: it only runs.
      rmSync(join(copy, 'src'), { recursive: true });
      rmSync(join(copy, 'node_modules'), { recursive: true });
      const published = await help();
      assert.equal(published.code, 0, published.stderr);
      assert.match(published.stdout, /^Usage: odp-sdk-collector/);
      assert.equal(published.stderr, '');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  test('the CLI rejects bad flags with its usage', async () => {
    const result = await runNode(['src/cli.ts', '--fail-rate', 'lots'], 15_000);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--fail-rate needs a number/);
    assert.match(result.stderr, /Usage: odp-sdk-collector/);
  });
});
