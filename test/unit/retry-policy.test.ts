import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyStatus, parseRetryAfter } from '../../src/dispatcher/retry-policy';

describe('backoffDelay', () => {
  it('doubles from initialMs with equal jitter: between half the ceiling and the ceiling', () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(2, 100, 10_000, () => 0)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).toBe(300);
    expect(backoffDelay(4, 100, 10_000, () => 1)).toBe(800);
  });

  it('is capped at maxMs, however many attempts', () => {
    expect(backoffDelay(5, 100, 1_000, () => 1)).toBe(1_000);
    expect(backoffDelay(5, 100, 1_000, () => 0)).toBe(500);
    // 2 ** (attempt - 1) would be Infinity * 0 = NaN without the exponent's own cap.
    expect(backoffDelay(5_000, 0, 1_000, () => 1)).toBe(0);
    expect(backoffDelay(5_000, 100, 1_000, () => 1)).toBe(1_000);
  });

  it('the exponent stops at 30 doublings', () => {
    expect(backoffDelay(31, 1, Number.MAX_SAFE_INTEGER, () => 1)).toBe(2 ** 30);
    expect(backoffDelay(40, 1, Number.MAX_SAFE_INTEGER, () => 1)).toBe(2 ** 30);
  });

  it('rounds to whole milliseconds', () => {
    expect(backoffDelay(1, 3, 100, () => 0)).toBe(2); // 1.5 rounds up
    expect(backoffDelay(1, 3, 100, () => 0.1)).toBe(2); // 1.65
  });

  it('uses Math.random by default, staying within its bounds', () => {
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(2, 100, 1_000);
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThanOrEqual(200);
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2030, 0, 1, 12, 0, 0);

  it('absent or empty: undefined', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
  });

  it('delay-seconds, whole or fractional, surrounding space ignored', () => {
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter(' 2 ', now)).toBe(2_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
    expect(parseRetryAfter('120', now)).toBe(120_000); // more than one digit (V8 would read '120' as a past year)
    expect(parseRetryAfter('1.25', now)).toBe(1_250);
    expect(parseRetryAfter('0.0004', now)).toBe(0);
  });

  it('an HTTP date: the time until then, never negative', () => {
    expect(parseRetryAfter(new Date(now + 4_000).toUTCString(), now)).toBe(4_000);
    expect(parseRetryAfter('Tue, 01 Jan 2030 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter(new Date(now - 60_000).toUTCString(), now)).toBe(0);
  });

  it('measures from Date.now() by default', () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const delay = parseRetryAfter(inTenSeconds)!;
    expect(delay).toBeGreaterThan(8_000);
    expect(delay).toBeLessThanOrEqual(10_000);
  });

  it('unreadable: undefined', () => {
    for (const value of ['soon', '5s', '1e3', 'x1', 'Mon, 99 Foo']) {
      expect(parseRetryAfter(value, now), value).toBeUndefined();
    }
  });

  it('not delay-seconds but read by Date.parse as a past date (V8 is lenient): no extra wait', () => {
    // '-5' is the year -5 to V8: it never lengthens the backoff.
    for (const value of ['-5', '+5', '.5', '1.']) expect(parseRetryAfter(value, now), value).toBe(0);
  });
});

describe('classifyStatus', () => {
  it.each([200, 201, 202, 204, 299])('%i: delivered', (status) => expect(classifyStatus(status)).toBe('delivered'));
  it('413: split', () => expect(classifyStatus(413)).toBe('split'));
  it.each([408, 425, 429, 500, 502, 503, 504, 599])('%i: retry', (status) => expect(classifyStatus(status)).toBe('retry'));
  it.each([100, 199, 300, 301, 304, 399, 400, 401, 403, 404, 409, 412, 414, 422, 426, 428, 431, 499])('%i: reject', (status) =>
    expect(classifyStatus(status)).toBe('reject'),
  );
});
