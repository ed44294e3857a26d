import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createInstance, OdpError, type OdpClient } from '../src/index';
import { API_KEY, captureLogger, fixtureDatafile, type CapturedLogger } from './support/helpers';

// Each test gets a fresh client that is ready but never sends (the host is a closed port and
// nothing is flushed during the test), so no test sees what another one accepted or logged.
let client: OdpClient;
let logger: CapturedLogger;
const ok = { fs_user_id: 'user123' };

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;
const hostileGetter = Object.defineProperty({}, 'fs_user_id', { enumerable: true, get: () => { throw new Error('boom'); } });
const revoked = Proxy.revocable({}, {});
revoked.revoke();
const trapAll = new Proxy({}, { ownKeys: () => { throw new Error('trap'); }, get: () => { throw new Error('trap'); } });
const huge = 'x'.repeat(200_000);
const protoJson = JSON.parse('{"__proto__": "polluted", "fs_user_id": "u"}') as Record<string, string>;
const protoData = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;

const badIdentifiers: Array<[string, unknown]> = [
  ['undefined', undefined], ['null', null], ['a number', 42], ['a string', 'user123'], ['true', true],
  ['an array', [['fs_user_id', 'u']]], ['an empty object', {}], ['only empty values', { fs_user_id: '', email: '' }],
  ['a number value', { fs_user_id: 123 }], ['a null value', { fs_user_id: null }], ['a nested object', { fs_user_id: { id: 'u' } }],
  ['a cyclic object', cyclic], ['a symbol', Symbol('id')], ['a symbol value', { fs_user_id: Symbol('x') }],
  ['a function', () => 'u'], ['a Date', new Date()], ['a throwing getter', hostileGetter], ['a revoked proxy', revoked.proxy],
  ['a trapping proxy', trapAll], ['a __proto__ key', protoJson], ['NaN', NaN], ['Infinity', Infinity], ['a bigint', 10n],
  ['a bigint value', { fs_user_id: 10n }], ['an undefined value', { fs_user_id: undefined }],
  ['conflicting fs_user_id spellings', { fs_user_id: 'a', 'FS-USER-ID': 'b' }], ['a Map with a non-string key', new Map<unknown, string>([[1, 'u']])],
];

const badTypes: Array<[string, unknown]> = [
  ['a number', 7], ['an object', {}], ['an array', ['fullstack']], ['true', true], ['a symbol', Symbol('t')], ['NaN', NaN], ['a function', () => 'x'],
];

const badActions: Array<[string, unknown]> = [
  ['undefined', undefined], ['null', null], ['empty', ''], ['blank', '   '], ['a number', 1], ['NaN', NaN], ['Infinity', Infinity],
  ['an object', { name: 'purchased' }], ['an array', ['purchased']], ['a symbol', Symbol('a')], ['a cyclic object', cyclic], ['a bigint', 1n],
];

const badData: Array<[string, unknown]> = [
  ['a number', 5], ['a string', 'data'], ['an array', [1, 2]], ['true', true], ['a function', () => ({})], ['a symbol', Symbol('d')],
  ['a nested object', { item: { name: 'shirt' } }], ['an array value', { items: ['a'] }], ['a cyclic object', { c: cyclic }],
  ['an undefined value', { price: undefined }], ['NaN', { price: NaN }], ['Infinity', { price: Infinity }], ['-Infinity', { price: -Infinity }],
  ['a bigint value', { price: 10n }], ['a symbol value', { s: Symbol('s') }], ['a function value', { f: () => 1 }],
  ['a Date value', { at: new Date() }], ['a __proto__ key', protoData], ['a throwing getter', Object.defineProperty({}, 'x', { enumerable: true, get: () => { throw new Error('no'); } })],
  ['a Map with a non-string key', new Map<unknown, unknown>([[1, 'v']])], ['a Map with an object value', new Map([['k', {}]])],
];

function expectCode(result: unknown, code: string, field: string) {
  assert.ok(result instanceof OdpError, `expected an OdpError, got ${String(result)}`);
  assert.equal(result.code, code, result.message);
  assert.match(result.message, new RegExp(field));
}

describe('hostile input never throws and gets the right error', { timeout: 30_000 }, () => {
  beforeEach(() => {
    logger = captureLogger();
    client = createInstance({ datafile: fixtureDatafile('http://127.0.0.1:9'), logger, logLevel: 'debug', odp: { flushIntervalMs: 60_000, batchSize: 10_000 } });
  });
  afterEach(() => client.close({ timeoutMs: 0 }));

  for (const [name, value] of badIdentifiers) {
    test(`identifiers: ${name}`, () => {
      expectCode(client.sendOdpEvent({ action: 'a', identifiers: value as never }), 'invalidIdentifiers', 'identifiers');
      expectCode(client.sendOdpEvent('fullstack', 'a', value as never), 'invalidIdentifiers', 'identifiers');
    });
  }
  for (const [name, value] of badTypes) {
    test(`type: ${name}`, () => {
      expectCode(client.sendOdpEvent({ type: value as never, action: 'a', identifiers: ok }), 'invalidType', 'type');
    });
  }
  for (const [name, value] of badActions) {
    test(`action: ${name}`, () => {
      expectCode(client.sendOdpEvent({ action: value as never, identifiers: ok }), 'invalidAction', 'action');
      expectCode(client.sendOdpEvent('t', value as never, ok), 'invalidAction', 'action');
    });
  }
  for (const [name, value] of badData) {
    test(`data: ${name}`, () => {
      expectCode(client.sendOdpEvent({ action: 'a', identifiers: ok, data: value as never }), 'invalidData', 'data');
    });
  }
  test('a huge string is refused as too large, not queued', () => {
    expectCode(client.sendOdpEvent({ action: 'a', identifiers: ok, data: { blob: huge } }), 'eventTooLarge', 'maxEventBytes');
    expectCode(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: huge } }), 'eventTooLarge', 'maxEventBytes');
  });
  test('no argument, or junk in place of the event object', () => {
    for (const args of [[], [null], [undefined], [42], ['purchased'], [Symbol('e')], [[]], [new Map()]] as unknown[][]) {
      const result = (client.sendOdpEvent as (...a: unknown[]) => unknown)(...args);
      assert.ok(result instanceof OdpError);
      assert.equal(result.code, 'invalidIdentifiers');
    }
  });
  test('nothing was polluted and no bad event was accepted', () => {
    const inputs: Array<[string, unknown]> = [
      ...badIdentifiers.map(([, value]): [string, unknown] => ['identifiers', value]),
      ...badData.map(([, value]): [string, unknown] => ['data', value]),
    ];
    for (const [field, value] of inputs) {
      const event = field === 'identifiers' ? { action: 'a', identifiers: value } : { action: 'a', identifiers: ok, data: value };
      assert.ok(client.sendOdpEvent(event as never) instanceof OdpError);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    assert.equal(client.stats().accepted, 0);
    assert.equal(client.stats().rejected.invalidIdentifiers! + client.stats().rejected.invalidData!, inputs.length);
  });
  test('valid edge values are accepted: null, booleans, zero, empty strings, unicode, Map input', () => {
    assert.equal(client.sendOdpEvent({ action: 'a', identifiers: ok, data: { n: null, t: true, f: false, z: 0, neg: -1.5, e: '', u: 'héllo 🎉' } }), null);
    assert.equal(client.sendOdpEvent({ action: 'a', identifiers: new Map([['email', 'a@b.c']]), data: new Map<string, string | number>([['k', 'v']]) }), null);
    assert.equal(client.sendOdpEvent(null, 'a', ok), null);
    assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u', email: '' } }), null, 'empty values beside a good one are dropped');
    assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { constructor: 'c' }, data: { constructor: 'x', toString: 'y' } }), null);
    assert.equal(client.stats().accepted, 5);
  });
  test('refusals are plain OdpErrors, made without a stack capture that would leak into the host', () => {
    const limit = Error.stackTraceLimit;
    const error = client.sendOdpEvent({ action: '', identifiers: ok });
    assert.ok(error instanceof OdpError && error instanceof Error);
    assert.equal(error.name, 'OdpError');
    assert.equal(Error.stackTraceLimit, limit, 'the global stack trace limit is restored');
    assert.doesNotMatch(String(error.stack), /build-event|odp-client/, 'no SDK frames in the stack');
  });
  test('the API key never appears in a log line, refusals and accepted events included', () => {
    for (const [, value] of [...badIdentifiers, ...badData]) client.sendOdpEvent({ action: 'a', identifiers: value as never, data: value as never });
    client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: API_KEY }, data: { key: API_KEY } });
    assert.ok(logger.lines.length > badIdentifiers.length, 'the refusals were logged');
    assert.ok(!logger.text().includes(API_KEY));
  });
});
