// Fuzz (fast-check): arbitrary values for every sendOdpEvent parameter, in both call forms, and
// arbitrary JSON and non-JSON values as the datafile (given directly and fetched over HTTP).
// The SDK must never throw, must answer null or an OdpError with a documented code, must agree
// with an independent reading of the contract on what is valid, and valid events must still reach
// the collector afterwards. Run counts are fixed (FUZZ_RUNS scales them) so the file stays well under 60 s.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { startCollector, type Collector } from '../../collector/src/collector';
import { createInstance, OdpError, type OdpClient } from '../../src/index';
import { API_KEY, captureLogger, fixtureDatafile, until, type CapturedLogger } from '../support/helpers';
import { envInt } from '../support/chaos';

const RUNS = envInt('FUZZ_RUNS', 1_000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const params = (numRuns: number) => ({ numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });

const DOCUMENTED = new Set([
  'sdkNotReady', 'odpNotEnabled', 'odpNotIntegrated', 'invalidIdentifiers', 'invalidType', 'invalidAction', 'invalidData', 'eventTooLarge', 'queueFull', 'closed',
]);
const INPUT_CODES = new Set(['invalidIdentifiers', 'invalidType', 'invalidAction', 'invalidData', 'eventTooLarge']);

// ---- an independent reading of the contract (section 2), used as the oracle ----

function plainEntries(value: unknown): Array<[unknown, unknown]> | null {
  if (value instanceof Map) return [...value.entries()];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return null;
  return Object.entries(value);
}

const isUserIdSpelling = (key: string) => key.toLowerCase().replace(/-/g, '_') === 'fs_user_id';

function validIdentifiers(value: unknown): boolean {
  const entries = plainEntries(value);
  if (!entries) return false;
  let userId: string | undefined;
  let nonEmpty = 0;
  for (const [key, id] of entries) {
    if (typeof key !== 'string' || key === '' || key === '__proto__' || typeof id !== 'string') return false;
    if (id === '') continue;
    if (isUserIdSpelling(key)) {
      if (userId !== undefined && userId !== id) return false; // two spellings, two users
      userId = id;
    }
    nonEmpty++;
  }
  return nonEmpty > 0;
}

function validData(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  const entries = plainEntries(value);
  if (!entries) return false;
  return entries.every(([key, v]) => typeof key === 'string' && key !== '' && key !== '__proto__' &&
    (typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v))));
}

/** Valid per the contract (sizes stay far below maxEventBytes here, so size is not part of it). */
function contractValid(type: unknown, action: unknown, identifiers: unknown, data: unknown): boolean {
  try {
    return validIdentifiers(identifiers) &&
      (type === undefined || type === null || typeof type === 'string') &&
      typeof action === 'string' && action.trim() !== '' &&
      validData(data);
  } catch {
    return false; // a value that throws when read (getter, proxy trap) is invalid input
  }
}

// ---- arbitraries ----

const anything = fc.anything({
  withBoxedValues: true, withMap: true, withSet: true, withNullPrototype: true, withBigInt: true, withDate: true,
  withTypedArray: true, withSparseArray: true, withObjectString: true, stringUnit: 'binary',
});
/** fast-check prints counterexamples by reading them: give the throwing ones a name it can print instead. */
function named<T extends object>(value: T, name: string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => name });
  return value;
}
const hostile = fc.constantFrom<unknown>(
  Symbol('s'), () => 'f', NaN, Infinity, -0, 10n, new Date(NaN), /re/, new Error('e'), Promise.resolve(1),
  named(Object.defineProperty({}, 'fs_user_id', { enumerable: true, get: () => { throw new Error('getter'); } }), 'throwing fs_user_id getter'),
  named(Object.defineProperty({}, 'integrations', { enumerable: true, get: () => { throw new Error('getter'); } }), 'throwing integrations getter'),
  new Proxy({}, { ownKeys: () => { throw new Error('trap'); }, get: (_t, p) => (p === fc.toStringMethod ? () => 'ownKeys-trap proxy' : undefined) }),
  // Throws on reading any own-looking property; what fast-check needs to print it still works.
  new Proxy({}, {
    get: (target, p, receiver) => {
      if (p === fc.toStringMethod) return () => 'get-trap proxy';
      if (typeof p === 'symbol' || p in Object.prototype) return Reflect.get(target, p, receiver);
      throw new Error('get trap');
    },
  }),
  JSON.parse('{"__proto__":{"polluted":true},"fs_user_id":"u"}'),
  JSON.parse('{"constructor":{"prototype":{"polluted":true}}}'),
);
const key = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('fs_user_id', 'FS-USER-ID', 'Fs_User-Id', 'fs-user-id', 'email', 'vuid', '__proto__', 'constructor', 'prototype', 'toString', 'idempotence_id', 'data_source', ''),
);
const text = fc.string({ unit: 'binary', maxLength: 40 });
const goodText = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
const goodKey = fc.oneof(goodText.filter((k) => k !== '__proto__'), fc.constantFrom('fs_user_id', 'FS-USER-ID', 'email', 'vuid', 'constructor', 'toString'));
const flat = fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
const identifiersArb = fc.oneof(
  { arbitrary: fc.dictionary(goodKey, goodText, { minKeys: 1, maxKeys: 4 }), weight: 6 },
  { arbitrary: fc.dictionary(key, text, { maxKeys: 4 }), weight: 2 },
  { arbitrary: fc.dictionary(key, fc.oneof(text, anything), { maxKeys: 4 }), weight: 1 },
  { arbitrary: fc.array(fc.tuple(goodKey, goodText), { minLength: 1, maxLength: 4 }).map((pairs) => new Map(pairs)), weight: 2 },
  { arbitrary: fc.array(fc.tuple(fc.oneof(key, anything), fc.oneof(text, anything)), { maxLength: 3 }).map((pairs) => new Map(pairs)), weight: 1 },
  { arbitrary: anything, weight: 1 },
  { arbitrary: hostile, weight: 1 },
);
const dataArb = fc.oneof(
  { arbitrary: fc.dictionary(goodKey, flat, { maxKeys: 5 }), weight: 6 },
  { arbitrary: fc.dictionary(key, fc.oneof(flat, fc.constant(undefined), anything), { maxKeys: 4 }), weight: 2 },
  { arbitrary: fc.array(fc.tuple(goodKey, flat), { maxLength: 4 }).map((pairs) => new Map(pairs)), weight: 2 },
  { arbitrary: fc.constantFrom(undefined, null), weight: 2 },
  { arbitrary: anything, weight: 1 },
  { arbitrary: hostile, weight: 1 },
);
const typeArb = fc.oneof(
  { arbitrary: fc.oneof(text, fc.constantFrom(undefined, null, '', 'fullstack')), weight: 8 },
  { arbitrary: anything, weight: 1 },
  { arbitrary: hostile, weight: 1 },
);
const actionArb = fc.oneof(
  { arbitrary: fc.oneof(goodText, fc.constantFrom('', '   ', 'purchased')), weight: 8 },
  { arbitrary: anything, weight: 1 },
  { arbitrary: hostile, weight: 1 },
);

function checkResult(result: unknown, valid: boolean): void {
  if (result === null) {
    assert.ok(valid, 'an event the contract calls invalid was accepted');
    return;
  }
  assert.ok(result instanceof OdpError, `sendOdpEvent returned ${String(result)}`);
  assert.ok(DOCUMENTED.has(result.code), `undocumented code ${result.code}`);
  assert.ok(INPUT_CODES.has(result.code), `a ready client with room refused input with ${result.code}: ${result.message}`);
  assert.equal(typeof result.message, 'string');
  assert.ok(!valid, `a valid event was refused: ${result.code}: ${result.message}`);
}

describe('fuzz: sendOdpEvent parameters', { timeout: 120_000 }, () => {
  // Each run gets its own collector and client, so each test's delivery check sees only its events.
  let collector: Collector;
  let client: OdpClient;
  let logger: CapturedLogger;
  let accepted = 0;

  beforeEach(async () => {
    collector = await startCollector();
    logger = captureLogger();
    accepted = 0;
    client = createInstance({
      datafile: fixtureDatafile(collector.url),
      logger,
      logLevel: 'debug',
      odp: { flushIntervalMs: 10, initialBackoffMs: 5, maxBackoffMs: 50 },
    });
  });
  afterEach(async () => {
    await client?.close({ timeoutMs: 0 });
    await collector?.close();
  });

  /** After a run: every accepted event was delivered, nothing was polluted, and valid events still flow. */
  async function assertStillFlowing(form: string, runs: number): Promise<void> {
    assert.ok(accepted > 0, 'the arbitraries produced some valid events');
    const marker = client.sendOdpEvent('fullstack', 'after_fuzz', { fs_user_id: 'still-flowing' }, { ok: true });
    assert.equal(marker, null);
    await client.flush();
    const stats = client.stats();
    assert.equal(stats.accepted, accepted + 1);
    assert.equal(stats.delivered, stats.accepted, `every accepted event was delivered (dropped: ${JSON.stringify(stats.droppedByReason)})`);
    assert.equal(collector.stats().distinctIds, stats.accepted);
    assert.ok(collector.events.some((e) => e.action === 'after_fuzz' && e.identifiers.fs_user_id === 'still-flowing'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was not polluted');
    assert.ok(!logger.text().includes(API_KEY));
    console.log(`fuzz sendOdpEvent ${form}: runs=${runs} accepted=${accepted} delivered=${stats.delivered}`);
  }

  test(`object form, ${RUNS} runs: never throws, answers null or a documented input error, agrees with the contract; accepted events are delivered`, async () => {
    fc.assert(
      fc.property(fc.record({ type: typeArb, action: actionArb, identifiers: identifiersArb, data: dataArb }, { requiredKeys: [] }), (input) => {
        const record = input as Record<string, unknown>;
        const result = client.sendOdpEvent(input as never);
        if (result === null) accepted++;
        checkResult(result, contractValid(record.type, record.action, record.identifiers, record.data));
      }),
      params(RUNS),
    );
    await assertStillFlowing('object', RUNS);
  });

  test(`positional form, ${RUNS} runs, with 0 to 6 arguments; accepted events are delivered`, async () => {
    fc.assert(
      fc.property(fc.tuple(typeArb, actionArb, identifiersArb, dataArb, anything, anything), fc.integer({ min: 0, max: 6 }), (all, n) => {
        const args = all.slice(0, n);
        // With an object first, the object form is meant (documented): judge it that way.
        const first = args[0];
        const asObject = typeof first === 'object' && first !== null;
        const valid = asObject
          ? (() => {
              try {
                const o = first as Record<string, unknown>;
                return contractValid(o.type, o.action, o.identifiers, o.data);
              } catch {
                return false;
              }
            })()
          : contractValid(args[0], args[1], args[2], args[3]);
        const result = (client.sendOdpEvent as (...a: unknown[]) => unknown)(...args);
        if (result === null) accepted++;
        checkResult(result, valid);
      }),
      params(RUNS),
    );
    await assertStillFlowing('positional', RUNS);
  });

});

// ---- datafiles ----

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** The contract's reading of a datafile: ready? integrated? */
function datafileOracle(input: unknown): { ready: boolean; integrated: boolean } {
  try {
    return readDatafile(input);
  } catch {
    return { ready: false, integrated: false }; // a datafile that throws when read is not a datafile
  }
}

function readDatafile(input: unknown): { ready: boolean; integrated: boolean } {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch {
      return { ready: false, integrated: false };
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ready: false, integrated: false };
  const integrations = (json as { integrations?: unknown }).integrations;
  if (integrations !== undefined && !Array.isArray(integrations)) return { ready: false, integrated: false };
  const entry = (integrations ?? []).find((i: unknown) => typeof i === 'object' && i !== null && (i as { key?: unknown }).key === 'odp') as
    | { host?: unknown; publicKey?: unknown }
    | undefined;
  if (!entry || typeof entry.host !== 'string' || entry.host === '' || typeof entry.publicKey !== 'string' || entry.publicKey === '') {
    return { ready: true, integrated: false };
  }
  let url: URL;
  try {
    url = new URL(entry.host);
  } catch {
    return { ready: true, integrated: false };
  }
  const ok = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.test(url.hostname));
  return { ready: true, integrated: ok };
}

const hostArb = fc.oneof(
  fc.webUrl(), fc.webUrl().map((u) => u.replace(/^https?:/, 'http:')), text,
  fc.constantFrom('https://api.zaius.com', 'http://127.0.0.1:9', 'http://localhost:1', 'http://[::1]:1', 'ftp://x.y', 'javascript:alert(1)',
    'file:///etc/passwd', 'api.zaius.com', 'http://127.0.0.1.evil.com', 'http://evil.com#@127.0.0.1', 'HTTPS://API.ZAIUS.COM', '', 'data:,x'),
);
const integrationArb = fc.oneof(
  { arbitrary: fc.record({ key: fc.constant('odp'), host: hostArb, publicKey: fc.oneof(goodText, fc.constant(API_KEY)) }), weight: 4 },
  { arbitrary: fc.record({ key: fc.oneof(fc.constant('odp'), text), host: fc.oneof(hostArb, anything), publicKey: fc.oneof(text, fc.constant(API_KEY), anything) }, { requiredKeys: [] }), weight: 2 },
  { arbitrary: fc.jsonValue(), weight: 1 },
);
const datafileArb = fc.oneof(
  { arbitrary: fc.record({ revision: fc.oneof(text, anything), integrations: fc.array(integrationArb, { maxLength: 3 }) }, { requiredKeys: ['integrations'] }), weight: 5 },
  { arbitrary: fc.record({ revision: fc.oneof(text, anything), integrations: fc.oneof(fc.array(integrationArb, { maxLength: 3 }), anything) }, { requiredKeys: [] }), weight: 2 },
  { arbitrary: fc.jsonValue(), weight: 1 },
  { arbitrary: fc.json(), weight: 1 },
  { arbitrary: text, weight: 1 },
  { arbitrary: anything, weight: 1 },
  { arbitrary: hostile, weight: 1 },
);

describe('fuzz: the datafile', { timeout: 120_000 }, () => {
  test(`${RUNS} arbitrary datafiles given directly (objects, JSON text, non-JSON): never throw, readiness and integration follow the contract`, async () => {
    const counts = { direct: 0, ready: 0, integrated: 0 };
    await fc.assert(
      fc.asyncProperty(datafileArb, fc.boolean(), async (input, asText) => {
        counts.direct++;
        let datafile: unknown = input;
        if (asText && typeof input === 'object' && input !== null) {
          try {
            datafile = JSON.stringify(input);
          } catch {
            datafile = input; // bigint and friends: keep the value itself
          }
        }
        const logger = captureLogger();
        let client: OdpClient | undefined;
        try {
          client = createInstance({ datafile: datafile as never, logger, logLevel: 'debug', odp: { flushIntervalMs: 60_000 } });
          const expected = datafileOracle(datafile);
          // An invalid event shows readiness and integration without ever queueing (no request to a fuzzed host).
          const probe = client.sendOdpEvent({ action: '', identifiers: { fs_user_id: 'u' } });
          assert.ok(probe instanceof OdpError && DOCUMENTED.has(probe.code));
          const code = !expected.ready ? 'sdkNotReady' : !expected.integrated ? 'odpNotIntegrated' : 'invalidAction';
          assert.equal(probe.code, code, `datafile ${describeInput(datafile)}: ${probe.message}; log: ${logger.text()}`);
          assert.equal(client.isReady(), expected.ready);
          if (expected.ready) counts.ready++;
          if (expected.integrated) counts.integrated++;
          if (!expected.ready) assert.ok(logger.lines.some((l) => l.level === 'error'), 'an unusable datafile is reported at error level');
          else if (!expected.integrated) assert.ok(logger.lines.some((l) => l.level === 'warn' && /ODP not integrated/.test(l.message)));
          assert.equal(client.stats().accepted, 0);
        } finally {
          await client?.close({ timeoutMs: 0 });
        }
      }),
      params(RUNS),
    );
    console.log(`fuzz datafile direct: ${counts.direct} (ready=${counts.ready}, integrated=${counts.integrated})`);
  });

  test(`${Math.max(20, Math.floor(RUNS / 10))} arbitrary bodies served as the fetched datafile: the client never throws, is ready only for a valid one`, async () => {
    const collector = await startCollector();
    let fetched = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.json(), text, fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'), datafileArb.map(safeStringify)), async (body) => {
          fetched++;
          const sdkKey = `fuzz${fetched}`;
          collector.setDatafile(sdkKey, body);
          const logger = captureLogger();
          const client = createInstance({
            sdkKey, logger, logLevel: 'debug', datafileUrlTemplate: `${collector.url}/datafiles/{sdkKey}.json`, datafileUpdateIntervalMs: 0,
            odp: { flushIntervalMs: 60_000, requestTimeoutMs: 2_000 },
          });
          try {
            const expected = datafileOracle(body);
            await until(() => client.isReady() || logger.lines.some((l) => l.level === 'error'), 5_000, 'the fetch to end');
            assert.equal(client.isReady(), expected.ready, `body ${describeInput(body)}: ${logger.text()}`);
            const probe = client.sendOdpEvent({ action: '', identifiers: { fs_user_id: 'u' } });
            assert.ok(probe instanceof OdpError && DOCUMENTED.has(probe.code));
          } finally {
            await client.close({ timeoutMs: 0 });
          }
        }),
        params(Math.max(20, Math.floor(RUNS / 10))),
      );
    } finally {
      await collector.close();
    }
  });

  test('regression: a datafile object whose properties throw when read makes a not-ready client, not a throw from createInstance', async () => {
    const throwing = [
      new Proxy({}, { get: () => { throw new Error('get trap'); } }),
      Object.defineProperty({}, 'integrations', { enumerable: true, get: () => { throw new Error('getter'); } }),
      { integrations: [new Proxy({}, { get: () => { throw new Error('entry trap'); } })] },
    ];
    for (const datafile of throwing) {
      const logger = captureLogger();
      const client = createInstance({ datafile, logger });
      try {
        assert.equal(client.isReady(), false);
        assert.equal(client.sendOdpEvent('t', 'a', { fs_user_id: 'u' })?.code, 'sdkNotReady');
        assert.match(logger.text(), /error: .*given datafile not taken: a property threw/);
      } finally {
        await client.close({ timeoutMs: 0 });
      }
    }
  });

  test('a valid datafile works and valid events flow to the collector', async () => {
    const collector = await startCollector();
    const client = createInstance({ datafile: JSON.stringify(fixtureDatafile(collector.url)), logger: captureLogger(), odp: { flushIntervalMs: 0 } });
    try {
      for (let i = 0; i < 25; i++) assert.equal(client.sendOdpEvent('fullstack', 'flows', { fs_user_id: `u${i}` }, { i }), null);
      await client.flush();
      assert.equal(client.stats().delivered, 25);
      assert.equal(collector.stats().distinctIds, 25);
    } finally {
      await client.close();
      await collector.close();
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return 'not json';
  }
}

function describeInput(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 300);
  } catch {
    return typeof value;
  }
}
