import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { startCollector } from '../src/collector/collector';
import type { Collector, CollectorOptions } from '../src/collector/collector';

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
async function post(c: Collector, body: unknown, init: { key?: string | null; type?: string; path?: string; timeoutMs?: number } = {}) {
  const headers: Record<string, string> = { 'content-type': init.type ?? 'application/json' };
  if (init.key !== null) headers['x-api-key'] = init.key ?? API_KEY;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), init.timeoutMs ?? 5000);
  try {
    return await fetch(c.url + (init.path ?? '/v3/events'), {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
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

  test('after close() nothing keeps Node alive (hung and delayed requests included)', async () => {
    const script = `
      import { startCollector } from './src/collector/collector.ts';
      const c = await startCollector({ faults: { hang: true } });
      const send = () => fetch(c.url + '/v3/events', { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'W4WzcEs-ABgXorzY7h1LCQ' }, body: '[]' }).then(() => 'answered', () => 'failed');
      const hung = send();
      while (c.stats().requests < 1) await new Promise((r) => setTimeout(r, 10));
      c.setFaults({ latencyMs: 60000 });
      const delayed = send();
      while (c.stats().requests < 2) await new Promise((r) => setTimeout(r, 10));
      await c.close();
      console.log(await hung, await delayed);
    `;
    const started = Date.now();
    const result = await runNode(['--input-type=module', '-e', script], 15_000);
    assert.equal(result.signal, null, `the process had to be killed: ${result.stderr}`);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'failed failed');
    assert.ok(Date.now() - started < 10_000);
  });

  test('the CLI prints its listening line and exits cleanly on SIGTERM', async () => {
    let url = '';
    let statsOk = false;
    const result = await runNode(['src/collector/cli.ts', '--port', '0', '--quiet', '--status', '503'], 15_000, (stdout, kill) => {
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

  test('the CLI rejects bad flags with its usage', async () => {
    const result = await runNode(['src/collector/cli.ts', '--fail-rate', 'lots'], 15_000);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--fail-rate needs a number/);
    assert.match(result.stderr, /Usage: odp-sdk-collector/);
  });
});
