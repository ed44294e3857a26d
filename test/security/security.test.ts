// Security: the API key never reaches a log line; ODP hosts must be https (plain http only on
// loopback or by opt-in); __proto__/constructor keys pollute nothing; oversized events are refused
// at the door (byte-exact, any script) instead of poisoning a batch; no eval/new Function in dist/.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startCollector, type Collector, type CollectorFaults } from '../../collector/src/collector';
import { createInstance, OdpError, SDK_NAME, SDK_VERSION, type OdpClient } from '../../src/index';
import type { OdpClientConfig } from '../../src/types';
import { API_KEY, captureLogger, fixtureDatafile, ROOT, until, type CapturedLogger } from '../support/helpers';

const OTHER_KEY = 'Zx9-SecondPublicKey_0042';

/** A client at logLevel 'debug' whose every line is kept for the key check. */
function debugClient(config: OdpClientConfig): { client: OdpClient; logger: CapturedLogger } {
  const logger = captureLogger();
  const client = createInstance({ logger, logLevel: 'debug', ...config });
  return { client, logger };
}

function assertNoKey(logger: CapturedLogger, ...keys: string[]): void {
  assert.ok(logger.lines.length > 0, 'the scenario logged something');
  for (const key of [API_KEY, ...keys]) {
    const leaked = logger.lines.filter((line) => line.message.includes(key));
    assert.deepEqual(leaked, [], `no log line contains the key ${key}`);
  }
}

async function withCollector<T>(faults: CollectorFaults, fn: (c: Collector) => Promise<T>, apiKey?: string): Promise<T> {
  const collector = await startCollector({ faults, ...(apiKey ? { apiKey } : {}) });
  try {
    return await fn(collector);
  } finally {
    await collector.close();
  }
}

/** A server that answers 400 and echoes the x-api-key it got in its body, as some APIs do. */
async function startEchoServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `unknown api key ${String(req.headers['x-api-key'])}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const fast = { flushIntervalMs: 0, initialBackoffMs: 1, maxBackoffMs: 5 };

describe('the API key appears in no log line at any level', { timeout: 60_000 }, () => {
  const sendAndClose = async (client: OdpClient, n = 3) => {
    for (let i = 0; i < n; i++) client.sendOdpEvent('fullstack', 'secure', { fs_user_id: `u${i}` }, { i });
    await client.flush();
    await client.close();
  };

  test('delivered, with debug lines', async () => {
    await withCollector({}, async (c) => {
      const { client, logger } = debugClient({ datafile: fixtureDatafile(c.url), odp: fast, vuid: true });
      await sendAndClose(client);
      assert.equal(c.batches[0]?.headers['x-api-key'], API_KEY, 'the key was in play: it went out in the header');
      assert.ok(logger.lines.some((l) => l.level === 'debug'));
      assertNoKey(logger);
    });
  });

  for (const status of [400, 401, 403, 404, 413, 429, 500, 503]) {
    test(`answered ${status} (retries, splits and drops included)`, async () => {
      await withCollector({ status, retryAfter: '0' }, async (c) => {
        const { client, logger } = debugClient({ datafile: fixtureDatafile(c.url), odp: { ...fast, maxRetries: 2 } });
        await sendAndClose(client);
        assert.ok(client.stats().dropped > 0);
        assert.ok(logger.lines.some((l) => l.level === 'error'));
        assertNoKey(logger);
      });
    });
  }

  test('a real 401: the collector expects another key', async () => {
    await withCollector({}, async (c) => {
      const { client, logger } = debugClient({ datafile: fixtureDatafile(c.url), odp: fast });
      await sendAndClose(client);
      assert.equal(client.stats().droppedByReason.rejectedByServer, 3);
      assertNoKey(logger);
    }, OTHER_KEY);
  });

  test('a server that echoes the key in its error body', async () => {
    const echo = await startEchoServer();
    try {
      const { client, logger } = debugClient({ datafile: fixtureDatafile(echo.url), odp: fast });
      await sendAndClose(client);
      assert.match(logger.text(), /unknown api key \*\*\*/, 'the echoed body is logged, with the key masked');
      assertNoKey(logger);
    } finally {
      await echo.close();
    }
  });

  test('resets, timeouts and close() dropping what is left', async () => {
    await withCollector({ resetRate: 1 }, async (c) => {
      const { client, logger } = debugClient({ datafile: fixtureDatafile(c.url), odp: { ...fast, maxRetries: 3 } });
      await sendAndClose(client);
      assertNoKey(logger);
    });
    await withCollector({ hang: true }, async (c) => {
      const { client, logger } = debugClient({ datafile: fixtureDatafile(c.url), odp: { ...fast, requestTimeoutMs: 50, maxRetries: 1000 } });
      client.sendOdpEvent('fullstack', 'secure', { fs_user_id: 'u' });
      await until(() => client.stats().retries > 2, 5_000, 'timeouts');
      await client.close({ timeoutMs: 50 });
      assert.equal(client.stats().droppedByReason.closed, 1);
      assertNoKey(logger);
    });
  });

  test('datafile errors: not JSON (with the key inside), fetch failures, insecure host, key rotation', async () => {
    await withCollector({}, async (c) => {
      const template = `${c.url}/datafiles/{sdkKey}.json`;
      const bodies: Record<string, string> = {
        broken: JSON.stringify(fixtureDatafile(c.url)).slice(0, -10),
        garbage: `<html>${API_KEY}</html>`,
        insecure: JSON.stringify(fixtureDatafile('http://odp.example.com')),
        badurl: JSON.stringify(fixtureDatafile('not a url')),
        ftp: JSON.stringify(fixtureDatafile('ftp://odp.example.com')),
      };
      for (const [sdkKey, body] of Object.entries(bodies)) {
        c.setDatafile(sdkKey, body);
        const { client, logger } = debugClient({ sdkKey, datafileUrlTemplate: template, datafileUpdateIntervalMs: 0 });
        await until(() => logger.lines.some((l) => l.level === 'error' || l.level === 'warn'), 5_000, `a datafile problem logged (${sdkKey})`);
        client.sendOdpEvent('fullstack', 'secure', { fs_user_id: 'u' });
        await client.close();
        assertNoKey(logger);
      }
      // A fetch that fails: nothing listens on port 9.
      const { client, logger } = debugClient({ sdkKey: 'k', datafileUrlTemplate: 'http://127.0.0.1:9/{sdkKey}.json' });
      await until(() => logger.lines.some((l) => l.level === 'error'), 5_000, 'a fetch failure');
      await client.close();
      assertNoKey(logger);

      // Rotation: the old key and the new one both stay masked.
      c.setDatafile('rotating', fixtureDatafile(c.url));
      const rotating = debugClient({ sdkKey: 'rotating', datafileUrlTemplate: template, datafileUpdateIntervalMs: 30, odp: fast });
      await rotating.client.onReady({ timeoutMs: 5_000 });
      rotating.client.sendOdpEvent('fullstack', 'secure', { fs_user_id: 'u' });
      await rotating.client.flush();
      const rotated = new Promise<void>((resolve) => rotating.client.on('datafileUpdate', ({ odp }) => odp?.publicKey === OTHER_KEY && resolve()));
      c.setDatafile('rotating', fixtureDatafile(c.url, OTHER_KEY));
      await rotated;
      rotating.client.sendOdpEvent('fullstack', 'secure', { fs_user_id: 'u2' });
      await rotating.client.flush();
      await rotating.client.close();
      assert.ok(c.batches.some((b) => b.headers['x-api-key'] === OTHER_KEY), 'the new key was used');
      assertNoKey(rotating.logger, OTHER_KEY);
    });
  });

  test('invalid config and refused events', async () => {
    const { client, logger } = debugClient({ datafile: fixtureDatafile('http://127.0.0.1:9'), odp: { batchSize: -1, queueSize: 'x' as never } });
    client.sendOdpEvent('fullstack', '', { fs_user_id: 'u' });
    // An event that carries the key as data, then is dropped at close: no line dumps the event.
    client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: API_KEY } });
    await client.close({ timeoutMs: 0 });
    assert.ok(logger.lines.some((l) => l.message.includes('invalid config')));
    assertNoKey(logger);
  });

  test('failures and a bad host in one run: every level is exercised and no line holds a key', async () => {
    const lines: CapturedLogger['lines'] = [];
    await withCollector({ status: 503, retryAfter: '0' }, async (c) => {
      // debug: requests; info: retries; error: the drop after maxRetries
      const { client, logger } = debugClient({ datafile: fixtureDatafile(c.url), odp: { ...fast, maxRetries: 1 } });
      await sendAndClose(client);
      lines.push(...logger.lines);
    });
    // warn: a plain http remote host is not integrated
    const insecure = debugClient({ datafile: fixtureDatafile('http://odp.example.com', OTHER_KEY) });
    insecure.client.sendOdpEvent('fullstack', 'secure', { fs_user_id: 'u' });
    await insecure.client.close({ timeoutMs: 0 });
    lines.push(...insecure.logger.lines);
    const levels = new Set(lines.map((l) => l.level));
    for (const level of ['debug', 'info', 'warn', 'error']) assert.ok(levels.has(level), `some line at ${level}`);
    assert.deepEqual(lines.filter((l) => l.message.includes(API_KEY) || l.message.includes(OTHER_KEY)), []);
  });
});

describe('the ODP host must be https (plain http only for loopback, or by opt-in)', { timeout: 30_000 }, () => {
  const probe = (client: OdpClient) => client.sendOdpEvent({ action: '', identifiers: { fs_user_id: 'u' } });
  const cases: Array<[string, boolean, boolean]> = [
    // host, integrated by default, integrated with allowInsecureHost
    ['https://api.zaius.com', true, true],
    ['HTTPS://API.ZAIUS.COM/', true, true],
    ['http://127.0.0.1:9', true, true],
    ['http://127.1.2.3:9', true, true],
    ['http://localhost:9', true, true],
    ['http://[::1]:9', true, true],
    ['http://api.zaius.com', false, true],
    ['http://127.0.0.1.evil.example', false, true],
    ['http://localhost.evil.example', false, true],
    ['http://127.0.0.1@evil.example', false, true],
    ['http://evil.example#@127.0.0.1', false, true],
    ['http://[::2]:9', false, true],
    ['ftp://api.zaius.com', false, false],
    ['ws://127.0.0.1:9', false, false],
    ['javascript:alert(1)', false, false],
    ['file:///etc/passwd', false, false],
    ['data:text/plain,x', false, false],
    ['api.zaius.com', false, false],
    ['//api.zaius.com', false, false],
  ];
  for (const [host, secure, optIn] of cases) {
    test(`${host}: ${secure ? 'integrated' : 'not integrated'}; with allowInsecureHost: ${optIn ? 'integrated' : 'not integrated'}`, async () => {
      for (const [allowInsecureHost, expected] of [[false, secure], [true, optIn]] as const) {
        const logger = captureLogger();
        const client = createInstance({ datafile: fixtureDatafile(host), logger, odp: { allowInsecureHost } });
        try {
          assert.equal(client.isReady(), true, 'a datafile with a bad host is still a datafile');
          const result = probe(client);
          assert.ok(result instanceof OdpError);
          assert.equal(result.code, expected ? 'invalidAction' : 'odpNotIntegrated');
          if (!expected) {
            assert.equal(client.sendOdpEvent('t', 'a', { fs_user_id: 'u' })?.code, 'odpNotIntegrated');
            assert.match(logger.text(), /warn: .*ODP not integrated: ODP host .* is not an https URL/, 'a clear reason is logged');
          }
        } finally {
          await client.close({ timeoutMs: 0 });
        }
      }
    });
  }

  test('a loopback http host really receives the events; a polled datafile that turns insecure stops them', async () => {
    await withCollector({}, async (c) => {
      const logger = captureLogger();
      c.setDatafile('flip', fixtureDatafile(c.url));
      const client = createInstance({ sdkKey: 'flip', datafileUrlTemplate: `${c.url}/datafiles/{sdkKey}.json`, datafileUpdateIntervalMs: 30, logger, odp: fast });
      try {
        await client.onReady({ timeoutMs: 5_000 });
        assert.equal(client.sendOdpEvent('t', 'a', { fs_user_id: 'u' }), null);
        await client.flush();
        assert.equal(c.events.length, 1);
        const updated = new Promise<void>((resolve) => client.on('datafileUpdate', ({ odp }) => odp === null && resolve()));
        c.setDatafile('flip', fixtureDatafile('http://odp.example.com'));
        await updated;
        assert.equal(client.sendOdpEvent('t', 'a', { fs_user_id: 'u' })?.code, 'odpNotIntegrated');
      } finally {
        await client.close();
      }
      assert.equal(c.events.length, 1);
    });
  });
});

describe('__proto__ and constructor keys cannot pollute prototypes', { timeout: 30_000 }, () => {
  const clean = () => {
    for (const name of ['polluted', 'key', 'host', 'publicKey', 'integrations', 'fs_user_id']) {
      assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, name), false, `Object.prototype.${name}`);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  };

  test('events: __proto__ is refused, constructor/prototype are plain keys that arrive as own properties', async () => {
    await withCollector({}, async (c) => {
      const client = createInstance({ datafile: fixtureDatafile(c.url), logger: captureLogger(), odp: fast });
      try {
        const proto = JSON.parse('{"__proto__":{"polluted":true},"fs_user_id":"u"}') as Record<string, string>;
        assert.equal(client.sendOdpEvent({ action: 'a', identifiers: proto })?.code, 'invalidIdentifiers');
        assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: JSON.parse('{"__proto__":{"polluted":true}}') })?.code, 'invalidData');
        assert.equal(client.sendOdpEvent({ action: 'a', identifiers: new Map([['__proto__', 'x'], ['fs_user_id', 'u']]) })?.code, 'invalidIdentifiers');
        assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: new Map([['__proto__', 'x']]) as never })?.code, 'invalidData');
        const tricky = JSON.parse('{"constructor":"c","prototype":"p","hasOwnProperty":"h","fs_user_id":"u"}') as Record<string, string>;
        assert.equal(client.sendOdpEvent({ action: 'a', identifiers: tricky, data: JSON.parse('{"constructor":"x","toString":"y","valueOf":1}') }), null);
        assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: JSON.parse('{"constructor":{"prototype":{"polluted":true}}}') })?.code, 'invalidData');
        await client.flush();
        assert.equal(c.events.length, 1);
        const body = JSON.parse(c.batches.at(-1)!.body) as Array<{ identifiers: object; data: object }>;
        const [event] = body;
        assert.deepEqual(Object.keys(event!.identifiers).sort(), ['constructor', 'fs_user_id', 'hasOwnProperty', 'prototype']);
        assert.equal((event!.data as Record<string, unknown>).constructor, 'x');
        assert.equal((event!.data as Record<string, unknown>).valueOf, 1);
      } finally {
        await client.close();
      }
      clean();
    });
  });

  test('datafiles: __proto__ cannot smuggle in an integration or pollute', async () => {
    const host = 'http://127.0.0.1:9';
    const texts = [
      `{"__proto__":{"integrations":[{"key":"odp","host":"${host}","publicKey":"${API_KEY}"}]}}`,
      `{"integrations":[{"__proto__":{"key":"odp","host":"${host}","publicKey":"${API_KEY}"}}]}`,
      `{"integrations":[{"key":"odp","__proto__":{"host":"${host}","publicKey":"${API_KEY}"}}]}`,
      `{"constructor":{"prototype":{"polluted":true}},"integrations":[]}`,
    ];
    for (const text of texts) {
      for (const datafile of [text, JSON.parse(text) as object]) {
        const logger = captureLogger();
        const client = createInstance({ datafile, logger });
        try {
          assert.equal(client.sendOdpEvent('t', 'a', { fs_user_id: 'u' })?.code, 'odpNotIntegrated', text);
        } finally {
          await client.close({ timeoutMs: 0 });
        }
      }
    }
    clean();
  });
});

describe('an event larger than odp.maxEventBytes (default 32,768) is refused with eventTooLarge', { timeout: 60_000 }, () => {
  /** The exact bytes the SDK will put on the wire for this event, with the caller's idempotence_id. */
  function wireBytes(identifiers: Record<string, string>, data: Record<string, string | number>): number {
    const event = {
      type: 'fullstack',
      action: 'big',
      identifiers,
      data: { idempotence_id: data.idempotence_id, data_source_type: 'sdk', data_source: SDK_NAME, data_source_version: SDK_VERSION, ...data },
    };
    return Buffer.byteLength(JSON.stringify(event), 'utf8');
  }

  /** An event of exactly `bytes` bytes of JSON, padded with `unit` (whose JSON form is `unitBytes` bytes). */
  function eventOf(bytes: number, unit: string, unitBytes: number, id: string): Record<string, string> {
    const base = wireBytes({ fs_user_id: 'u' }, { idempotence_id: id, pad: '' });
    const room = bytes - base;
    const count = Math.floor(room / unitBytes);
    const rest = room - count * unitBytes; // fill with ASCII
    const pad = unit.repeat(count) + 'a'.repeat(rest);
    assert.equal(wireBytes({ fs_user_id: 'u' }, { idempotence_id: id, pad }), bytes);
    return { idempotence_id: id, pad };
  }

  const units: Array<[string, string, number]> = [
    ['ASCII', 'a', 1],
    ['2-byte UTF-8 (é)', 'é', 2],
    ['3-byte UTF-8 (€)', '€', 3],
    ['4-byte UTF-8 (emoji, a surrogate pair)', '😀', 4],
    ['JSON-escaped control characters (\\u0001)', '\u0001', 6],
    ['JSON-escaped quotes', '"', 2],
    ['lone surrogates (escaped by JSON.stringify)', '\ud800', 6],
  ];

  for (const maxEventBytes of [32_768, 1_024]) {
    for (const [name, unit, unitBytes] of units) {
      test(`${maxEventBytes} bytes, ${name}: exactly the limit is delivered, one byte more is refused`, async () => {
        await withCollector({}, async (c) => {
          const odp = maxEventBytes === 32_768 ? fast : { ...fast, maxEventBytes };
          const client = createInstance({ datafile: fixtureDatafile(c.url), logger: captureLogger(), odp });
          try {
            const fits = eventOf(maxEventBytes, unit, unitBytes, '00000000-0000-4000-8000-000000000001');
            const over = eventOf(maxEventBytes + 1, unit, unitBytes, '00000000-0000-4000-8000-000000000002');
            const bigger = eventOf(maxEventBytes + unitBytes * 100, unit, unitBytes, '00000000-0000-4000-8000-000000000003');
            assert.equal(client.sendOdpEvent({ type: 'fullstack', action: 'big', identifiers: { fs_user_id: 'u' }, data: fits }), null);
            for (const data of [over, bigger]) {
              const result = client.sendOdpEvent({ type: 'fullstack', action: 'big', identifiers: { fs_user_id: 'u' }, data });
              assert.ok(result instanceof OdpError, 'an event over the limit is refused');
              assert.equal(result.code, 'eventTooLarge');
              assert.match(result.message, /maxEventBytes/);
            }
            await client.flush();
            assert.equal(c.events.length, 1);
            const body = c.batches.at(-1)!.body;
            assert.equal(Buffer.byteLength(body) - 2, maxEventBytes, 'the delivered event is exactly the limit on the wire');
          } finally {
            await client.close();
          }
        });
      });
    }
  }

  test('an oversized event does not poison its batch: the batch around it is delivered whole', async () => {
    // The server refuses bodies over 64 KiB; batches of 10 small events are far below it.
    await withCollector({ maxBodyBytes: 65_536 }, async (c) => {
      const client = createInstance({ datafile: fixtureDatafile(c.url), logger: captureLogger(), odp: { ...fast, flushIntervalMs: 50 } });
      try {
        const results = [];
        for (let i = 0; i < 10; i++) {
          results.push(client.sendOdpEvent('fullstack', 'small', { fs_user_id: `u${i}` }, { i }));
          if (i === 4) results.push(client.sendOdpEvent('fullstack', 'huge', { fs_user_id: 'h' }, { blob: '😀'.repeat(40_000) }));
        }
        assert.equal(results.filter((r) => r === null).length, 10);
        assert.equal(results.filter((r) => r?.code === 'eventTooLarge').length, 1);
        await client.flush();
        const stats = client.stats();
        assert.equal(stats.delivered, 10);
        assert.equal(stats.dropped, 0);
        assert.ok(c.batches.every((b) => b.status === 202), 'no 413 and no split');
        assert.equal(c.events.length, 10);
      } finally {
        await client.close();
      }
    });
  });
});

describe('no eval or new Function in any bundle in dist/', { timeout: 30_000 }, () => {
  test('every .js/.mjs/.cjs file in dist/ is free of eval(, new Function(, Function("...") and string timers', () => {
    const dist = join(ROOT, 'dist');
    assert.ok(existsSync(dist), 'dist/ is missing: run `npm run build` first (npm test builds before testing)');
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.(m|c)?js$/.test(name)) files.push(path);
      }
    };
    walk(dist);
    assert.ok(files.some((f) => f.endsWith('odp-sdk.umd.min.js')), 'the minified UMD bundle is among them');
    assert.ok(files.length >= 4, `bundles found: ${files.length}`);
    const patterns: Array<[string, RegExp]> = [
      ['eval(', /(^|[^.\w$])eval\s*\(/],
      ['indirect eval', /\(\s*0\s*,\s*eval\s*\)/],
      ['new Function(', /new\s+Function\s*\(/],
      ['Function("...")', /(^|[^.\w$])Function\s*\(\s*["'`]/],
      ['string timer', /set(Timeout|Interval|Immediate)\s*\(\s*["'`]/],
    ];
    const found: string[] = [];
    for (const file of files) {
      const code = readFileSync(file, 'utf8');
      for (const [name, pattern] of patterns) if (pattern.test(code)) found.push(`${file.slice(ROOT.length + 1)}: ${name}`);
    }
    assert.deepEqual(found, []);
    console.log(`scanned ${files.length} bundles in dist/`);
  });
});
