import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/client/options';
import type { OdpClientConfig } from '../../src/types';

const DEFAULT_ODP = {
  batchSize: 10,
  flushIntervalMs: 1_000,
  queueSize: 10_000,
  requestTimeoutMs: 10_000,
  maxRetries: 10,
  initialBackoffMs: 200,
  maxBackoffMs: 30_000,
  maxConcurrentRequests: 2,
  maxEventBytes: 32_768,
  maxStoredBytes: 262_144,
  segmentsCacheSize: 10_000,
  segmentsCacheTimeoutMs: 600_000,
  disabled: false,
  allowInsecureHost: false,
  compression: 'none',
};

describe('resolveOptions', () => {
  it('no config: every default, no problem', () => {
    const { options, problems } = resolveOptions(undefined);
    expect(problems).toEqual([]);
    expect(options).toEqual({
      datafile: undefined,
      sdkKey: undefined,
      datafileUrlTemplate: 'https://cdn.optimizely.com/datafiles/{sdkKey}.json',
      datafileUpdateIntervalMs: 300_000,
      closeTimeoutMs: 5_000,
      vuid: false,
      optOut: false,
      honorGlobalPrivacyControl: false,
      waitUntilTimeoutMs: 25_000,
      logger: console,
      logLevel: 'warn',
      odp: DEFAULT_ODP,
    });
    expect(resolveOptions({}).problems).toEqual([]);
  });

  it('a config that is not an object: defaults, and a problem', () => {
    for (const config of ['x', 5, null, [1]]) {
      const { options, problems } = resolveOptions(config as unknown as OdpClientConfig);
      expect(problems).toEqual(['createInstance expects a config object']);
      expect(options.odp).toEqual(DEFAULT_ODP);
    }
  });

  it('good values are kept, at their least allowed value too', () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const odp = {
      batchSize: 1,
      flushIntervalMs: 0,
      queueSize: 1,
      requestTimeoutMs: 1,
      maxRetries: 0,
      initialBackoffMs: 0,
      maxBackoffMs: 0,
      maxConcurrentRequests: 1,
      maxEventBytes: 256,
      maxStoredBytes: 0,
      segmentsCacheSize: 0,
      segmentsCacheTimeoutMs: 0,
      disabled: true,
      allowInsecureHost: true,
      compression: 'gzip' as const,
    };
    const beforeSend = <T>(event: T): T => event;
    const { options, problems } = resolveOptions({
      datafile: '{}',
      sdkKey: 'key',
      datafileUrlTemplate: 'https://x/{sdkKey}',
      datafileUpdateIntervalMs: 0,
      closeTimeoutMs: 0,
      vuid: true,
      beforeSend,
      optOut: true,
      honorGlobalPrivacyControl: true,
      logger,
      logLevel: 'silent',
      odp,
    });
    expect(problems).toEqual([]);
    expect(options).toEqual({
      datafile: '{}',
      sdkKey: 'key',
      datafileUrlTemplate: 'https://x/{sdkKey}',
      datafileUpdateIntervalMs: 0,
      closeTimeoutMs: 0,
      vuid: true,
      beforeSend,
      optOut: true,
      honorGlobalPrivacyControl: true,
      waitUntilTimeoutMs: 25_000,
      logger,
      logLevel: 'silent',
      odp,
    });
    expect(resolveOptions({ datafile: { a: 1 } }).options.datafile).toEqual({ a: 1 });
  });

  it('each bad count is replaced by its default, with a problem that names it and its bound', () => {
    const minimums: Record<string, number> = {
      batchSize: 1,
      flushIntervalMs: 0,
      queueSize: 1,
      requestTimeoutMs: 1,
      maxRetries: 0,
      initialBackoffMs: 0,
      maxBackoffMs: 0,
      maxConcurrentRequests: 1,
      maxEventBytes: 256,
      maxStoredBytes: 0,
      segmentsCacheSize: 0,
      segmentsCacheTimeoutMs: 0,
    };
    for (const [name, min] of Object.entries(minimums)) {
      for (const bad of [min - 1, 1.5 + min, '10', null, Number.NaN]) {
        const { options, problems } = resolveOptions({ odp: { [name]: bad } });
        const fallback = DEFAULT_ODP[name as keyof typeof DEFAULT_ODP];
        expect(problems, `${name}=${String(bad)}`).toEqual([`odp.${name} must be an integer >= ${min}; using ${fallback}`]);
        expect(options.odp[name as keyof typeof DEFAULT_ODP]).toBe(fallback);
      }
    }
  });

  it('bad flags, top-level counts and strings: defaults and problems', () => {
    const { options, problems } = resolveOptions({
      datafile: 5 as unknown as string,
      sdkKey: '',
      datafileUrlTemplate: 'https://no-placeholder/',
      datafileUpdateIntervalMs: -1,
      closeTimeoutMs: 'soon' as unknown as number,
      vuid: 'yes' as unknown as boolean,
      logger: { info() {} } as unknown as Console,
      logLevel: 'verbose' as never,
      odp: { disabled: 1 as unknown as boolean, allowInsecureHost: 'true' as unknown as boolean },
    });
    expect(problems).toEqual([
      'datafile must be a JSON string or an object',
      'sdkKey must be a non-empty string',
      'datafileUrlTemplate must be a string containing {sdkKey}; using the default',
      'logger must have debug, info, warn and error methods',
      'logLevel must be one of debug, info, warn, error, silent',
      'odp.disabled must be a boolean; using false',
      'odp.allowInsecureHost must be a boolean; using false',
      'datafileUpdateIntervalMs must be an integer >= 0; using 300000',
      'closeTimeoutMs must be an integer >= 0; using 5000',
      'vuid must be a boolean; using false',
    ]);
    expect(options).toMatchObject({
      datafile: undefined,
      sdkKey: undefined,
      datafileUrlTemplate: 'https://cdn.optimizely.com/datafiles/{sdkKey}.json',
      datafileUpdateIntervalMs: 300_000,
      closeTimeoutMs: 5_000,
      vuid: false,
      logger: console,
      logLevel: 'warn',
    });
    expect(options.odp.disabled).toBe(false);
    expect(options.odp.allowInsecureHost).toBe(false);
  });

  it('odp that is not an object is ignored; a datafile array is not a datafile; a non-string template is refused', () => {
    expect(resolveOptions({ odp: 'x' as never }).options.odp).toEqual(DEFAULT_ODP);
    expect(resolveOptions({ odp: [] as never }).options.odp).toEqual(DEFAULT_ODP);
    expect(resolveOptions({ datafile: [] as never }).problems).toEqual(['datafile must be a JSON string or an object']);
    expect(resolveOptions({ datafileUrlTemplate: 5 as never }).problems).toEqual(['datafileUrlTemplate must be a string containing {sdkKey}; using the default']);
    expect(resolveOptions({ sdkKey: 5 as never }).problems).toEqual(['sdkKey must be a non-empty string']);
    expect(resolveOptions({ logger: null as never }).problems).toEqual(['logger must have debug, info, warn and error methods']);
    expect(resolveOptions({ logger: { debug() {}, info() {}, warn() {}, error: 'x' } as never }).options.logger).toBe(console);
  });

  it('beforeSend, waitUntil, optOut, honorGlobalPrivacyControl and compression: bad values are refused with a problem', () => {
    const { options, problems } = resolveOptions({
      beforeSend: 'x' as never,
      waitUntil: 5 as never,
      optOut: 'yes' as never,
      honorGlobalPrivacyControl: 1 as never,
      odp: { compression: 'brotli' as never },
    });
    expect(problems).toEqual([
      'beforeSend must be a function; events are sent unchanged',
      'waitUntil must be a function',
      "odp.compression must be 'gzip' or 'none'; using 'none'",
      'optOut must be a boolean; using false',
      'honorGlobalPrivacyControl must be a boolean; using false',
    ]);
    expect(options).toMatchObject({ beforeSend: undefined, waitUntil: undefined, optOut: false, honorGlobalPrivacyControl: false });
    expect(options.odp.compression).toBe('none');
    expect(resolveOptions({ odp: { compression: 'none' } }).problems).toEqual([]);
  });

  it('with waitUntil, batches are cut at the end of the task: flushIntervalMs becomes 0', () => {
    const waitUntil = () => {};
    const { options, problems } = resolveOptions({ waitUntil, odp: { flushIntervalMs: 5_000 } });
    expect(problems).toEqual([]);
    expect(options.waitUntil).toBe(waitUntil);
    expect(options.odp.flushIntervalMs).toBe(0);
  });
});
