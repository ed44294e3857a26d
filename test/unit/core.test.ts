import { describe, expect, it, vi } from 'vitest';
import { Emitter } from '../../src/core/emitter';
import { SafeLogger } from '../../src/core/logger';
import { StatsTracker } from '../../src/core/stats-tracker';
import { isRecord, MAX_TIMER_MS, timerDelay, utf8Length } from '../../src/core/values';
import { odpError, OdpError } from '../../src/event/odp-error';
import { captureLogger } from './harness';

describe('utf8Length', () => {
  it.each([
    ['', 0],
    ['abc', 3],
    ['\u007f', 1],
    ['\u0080', 2],
    ['é', 2],
    ['\u07ff', 2],
    ['\u0800', 3],
    ['€', 3],
    ['\uffff', 3],
    ['😀', 4],
    ['a😀b', 6],
    ['\ud800', 3], // a lone high surrogate is sent as U+FFFD
    ['\udc00', 3], // a lone low surrogate
    ['\ud800a', 4],
    ['\udbff\udfff', 4],
    ['\ud7ff', 3],
    ['\ud800\ud800', 6],
    ['\ud800\ue000', 6],
    ['\ud800\udc00', 4], // the first pair
    ['\udc00\udc00', 6], // two lone low surrogates
    ['\ue000\udc00', 6], // a BMP character, then a lone low surrogate
  ])('%j is %i bytes, as Buffer counts it', (text, bytes) => {
    expect(utf8Length(text)).toBe(bytes);
    expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });
});

describe('isRecord', () => {
  it('plain objects and class instances yes; null, arrays and primitives no', () => {
    expect(isRecord({})).toBe(true);
    expect(isRecord(new Map())).toBe(true);
    expect(isRecord(null)).toBe(false);
    expect(isRecord([])).toBe(false);
    expect(isRecord('x')).toBe(false);
    expect(isRecord(undefined)).toBe(false);
  });
});

describe('StatsTracker', () => {
  it('counts each step of an event: accept, send, requeue, retry, deliver', () => {
    const stats = new StatsTracker();
    stats.accept();
    stats.accept();
    stats.accept();
    expect(stats.snapshot()).toMatchObject({ accepted: 3, queued: 3, inFlight: 0, requests: 0 });
    expect(stats.held).toBe(3);
    stats.send(2, false);
    expect(stats.snapshot()).toMatchObject({ queued: 1, inFlight: 2, requests: 1, retries: 0 });
    expect(stats.held).toBe(3);
    stats.requeue(2);
    expect(stats.snapshot()).toMatchObject({ queued: 3, inFlight: 0 });
    stats.send(2, true);
    expect(stats.snapshot()).toMatchObject({ requests: 2, retries: 1, inFlight: 2 });
    stats.deliver(2);
    expect(stats.snapshot()).toMatchObject({ accepted: 3, delivered: 2, queued: 1, inFlight: 0, dropped: 0 });
    expect(stats.held).toBe(1);
  });

  it('drops by reason, from the queue or from flight; dropped is their sum', () => {
    const stats = new StatsTracker();
    for (let i = 0; i < 10; i++) stats.accept();
    stats.drop(1, 'closed', 'queued');
    expect(stats.snapshot()).toMatchObject({ queued: 9, inFlight: 0 });
    stats.send(9, false);
    stats.drop(2, 'retriesExhausted', 'inFlight');
    stats.drop(3, 'rejectedByServer', 'inFlight');
    stats.drop(4, 'tooLarge', 'inFlight');
    const snapshot = stats.snapshot();
    expect(snapshot.droppedByReason).toEqual({ retriesExhausted: 2, rejectedByServer: 3, tooLarge: 4, closed: 1, optedOut: 0, waitUntilTimeout: 0 });
    expect(snapshot.dropped).toBe(10);
    expect(snapshot.inFlight).toBe(0);
    expect(snapshot.queued).toBe(0);
  });

  it('unconfirmed events: held, not pending; sent again (reconsider) or dropped from there', () => {
    const stats = new StatsTracker();
    for (let i = 0; i < 5; i++) stats.accept();
    stats.send(5, false);
    stats.unconfirm(3);
    expect(stats.snapshot()).toMatchObject({ inFlight: 2, unconfirmed: 3, pending: 2, queued: 0 });
    expect(stats.held).toBe(5);
    stats.reconsider(2);
    expect(stats.snapshot()).toMatchObject({ unconfirmed: 1, queued: 2, pending: 4 });
    stats.drop(1, 'optedOut', 'unconfirmed');
    expect(stats.snapshot()).toMatchObject({ unconfirmed: 0, queued: 2, inFlight: 2, dropped: 1 });
    expect(stats.droppedBy.optedOut).toBe(1);
    stats.drop(2, 'optedOut', 'waiting');
    expect(stats.snapshot()).toMatchObject({ queued: 0, inFlight: 2 });
  });

  it('counts refused calls by code, and snapshots are copies', () => {
    const stats = new StatsTracker();
    expect(stats.snapshot().rejected).toEqual({});
    stats.reject('queueFull');
    stats.reject('queueFull');
    stats.reject('closed');
    const snapshot = stats.snapshot();
    expect(snapshot.rejected).toEqual({ queueFull: 2, closed: 1 });
    snapshot.rejected.closed = 99;
    snapshot.droppedByReason.closed = 99;
    expect(stats.snapshot().rejected.closed).toBe(1);
    expect(stats.snapshot().droppedByReason.closed).toBe(0);
  });
});

describe('SafeLogger', () => {
  it('filters by level, prefixes every line', () => {
    const sink = captureLogger();
    const logger = new SafeLogger(sink, 'warn');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(sink.lines).toEqual([
      { level: 'warn', message: '[odp-sdk] w' },
      { level: 'error', message: '[odp-sdk] e' },
    ]);
    expect(logger.enabled('info')).toBe(false);
    expect(logger.enabled('warn')).toBe(true);
    expect(logger.enabled('error')).toBe(true);
  });

  it('debug lets everything through; silent nothing', () => {
    const all = captureLogger();
    const debug = new SafeLogger(all, 'debug');
    for (const level of ['debug', 'info', 'warn', 'error'] as const) debug[level](level);
    expect(all.lines.map((l) => l.level)).toEqual(['debug', 'info', 'warn', 'error']);
    expect(debug.enabled('debug')).toBe(true);
    const none = captureLogger();
    const silent = new SafeLogger(none, 'silent');
    for (const level of ['debug', 'info', 'warn', 'error'] as const) silent[level](level);
    expect(none.lines).toEqual([]);
    expect(silent.enabled('error')).toBe(false);
  });

  it('an unknown level means warn', () => {
    const sink = captureLogger();
    const logger = new SafeLogger(sink, 'loud' as never);
    logger.info('i');
    logger.warn('w');
    expect(sink.lines.map((l) => l.level)).toEqual(['warn']);
  });

  it('masks every registered secret, every time it occurs; an empty secret is ignored', () => {
    const sink = captureLogger();
    const logger = new SafeLogger(sink, 'debug');
    logger.addSecret('');
    logger.addSecret('KEY1');
    logger.addSecret('other');
    logger.error('KEY1 then KEY1 and other; key1 differs');
    expect(sink.lines[0]!.message).toBe('[odp-sdk] *** then *** and ***; key1 differs');
    logger.info('nothing to hide');
    expect(sink.lines[1]!.message).toBe('[odp-sdk] nothing to hide');
  });

  it('no logger given: the console', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      new SafeLogger(undefined, 'warn').warn('to the console');
      expect(warn).toHaveBeenCalledWith('[odp-sdk] to the console');
    } finally {
      warn.mockRestore();
    }
  });

  it('a logger that throws does not throw into the SDK', () => {
    const throwing = { debug: boom, info: boom, warn: boom, error: boom };
    const logger = new SafeLogger(throwing, 'debug');
    expect(() => logger.error('x')).not.toThrow();
    function boom(): never {
      throw new Error('logger broke');
    }
  });
});

describe('Emitter', () => {
  type Events = { a: number; b: string };

  it('delivers payloads to every listener of the event, in order of subscription', () => {
    const emitter = new Emitter<Events>();
    const seen: string[] = [];
    emitter.on('a', (n) => seen.push(`1:${n}`));
    emitter.on('a', (n) => seen.push(`2:${n}`));
    emitter.on('b', (s) => seen.push(`b:${s}`));
    emitter.emit('a', 7);
    expect(seen).toEqual(['1:7', '2:7']);
  });

  it('a throwing listener is isolated from the others and from the emitter', () => {
    const emitter = new Emitter<Events>();
    const seen: number[] = [];
    emitter.on('a', () => {
      throw new Error('user bug');
    });
    emitter.on('a', (n) => seen.push(n));
    expect(() => emitter.emit('a', 1)).not.toThrow();
    expect(seen).toEqual([1]);
  });

  it('unsubscribe by the returned function (twice is harmless); emitting with no listeners is fine', () => {
    const emitter = new Emitter<Events>();
    const seen: number[] = [];
    const listener = (n: number) => seen.push(n);
    const off = emitter.on('a', listener);
    emitter.on('a', (n) => seen.push(n * 10));
    off();
    off();
    emitter.emit('a', 1);
    expect(seen).toEqual([10]);
    expect(() => emitter.emit('b', 'x')).not.toThrow();
  });
});

describe('odpError', () => {
  it('an OdpError with code and message, without a stack capture, and the stack limit restored', () => {
    const before = Error.stackTraceLimit;
    const error = odpError('queueFull', 'full');
    expect(error).toBeInstanceOf(OdpError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('queueFull');
    expect(error.name).toBe('OdpError');
    expect(error.message).toBe('full');
    expect(error.stack ?? '').not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('x').stack).toMatch(/\n\s+at /);
  });
});

describe('timerDelay', () => {
  it('clamps to what timers hold: 0 to 2^31 - 1 ms; NaN and negatives are 0', () => {
    expect(MAX_TIMER_MS).toBe(2_147_483_647);
    expect(timerDelay(MAX_TIMER_MS)).toBe(MAX_TIMER_MS);
    expect(timerDelay(MAX_TIMER_MS + 1)).toBe(MAX_TIMER_MS);
    expect(timerDelay(Infinity)).toBe(MAX_TIMER_MS);
    expect(timerDelay(1)).toBe(1);
    expect(timerDelay(0)).toBe(0);
    expect(timerDelay(-5)).toBe(0);
    expect(timerDelay(Number.NaN)).toBe(0);
  });
});
