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
      logLevel: 'warn',
      odp: DEFAULT_ODP,
    });
    expect(resolveOptions({}).problems).toEqual([]);
  });

  it('a config that is not an object: defaults, and a problem', () => {
    for (const config of ['x', 5, null, [1]]) {
      const { options, problems } = resolveOptions(config as unknown as OdpClientConfig);
      expect(problems).toEqual(['config must be an object; ignored']);
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
      'datafile must be a JSON string or an object; ignored',
      'sdkKey must be a non-empty string; ignored',
      'datafileUrlTemplate must be a string containing {sdkKey}; using https://cdn.optimizely.com/datafiles/{sdkKey}.json',
      'datafileUpdateIntervalMs must be an integer >= 0; using 300000',
      'closeTimeoutMs must be an integer >= 0; using 5000',
      'logger must be an object with debug, info, warn, error methods; ignored',
      'logLevel must be one of debug, info, warn, error, silent; using warn',
      'vuid must be a boolean; using false',
      'odp.disabled must be a boolean; using false',
      'odp.allowInsecureHost must be a boolean; using false',
    ]);
    expect(options).toMatchObject({
      datafile: undefined,
      sdkKey: undefined,
      datafileUrlTemplate: 'https://cdn.optimizely.com/datafiles/{sdkKey}.json',
      datafileUpdateIntervalMs: 300_000,
      closeTimeoutMs: 5_000,
      vuid: false,
      logger: undefined,
      logLevel: 'warn',
    });
    expect(options.odp.disabled).toBe(false);
    expect(options.odp.allowInsecureHost).toBe(false);
  });

  it('odp that is not an object is ignored, with a problem; a datafile array is not a datafile; a non-string template is refused', () => {
    for (const odp of ['x', [], null]) {
      expect(resolveOptions({ odp: odp as never })).toMatchObject({ options: { odp: DEFAULT_ODP }, problems: ['odp must be an object; ignored'] });
    }
    expect(resolveOptions({ datafile: [] as never }).problems).toEqual(['datafile must be a JSON string or an object; ignored']);
    expect(resolveOptions({ datafileUrlTemplate: 5 as never }).problems).toEqual(['datafileUrlTemplate must be a string containing {sdkKey}; using https://cdn.optimizely.com/datafiles/{sdkKey}.json']);
    expect(resolveOptions({ sdkKey: 5 as never }).problems).toEqual(['sdkKey must be a non-empty string; ignored']);
    expect(resolveOptions({ logger: null as never }).problems).toEqual(['logger must be an object with debug, info, warn, error methods; ignored']);
    expect(resolveOptions({ logger: { debug() {}, info() {}, warn() {}, error: 'x' } as never }).options.logger).toBeUndefined();
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
      'beforeSend must be a function; ignored',
      'optOut must be a boolean; using false',
      'honorGlobalPrivacyControl must be a boolean; using false',
      'waitUntil must be a function; ignored',
      "odp.compression must be 'gzip' or 'none'; using none",
    ]);
    expect(options).toMatchObject({ beforeSend: undefined, waitUntil: undefined, optOut: false, honorGlobalPrivacyControl: false });
    expect(options.odp.compression).toBe('none');
    expect(resolveOptions({ odp: { compression: 'none' } }).problems).toEqual([]);
  });

  it('values above their upper bound are clamped to it, each with a warning; the bounds themselves are kept', () => {
    const bounds: Record<string, number> = {
      batchSize: 500,
      flushIntervalMs: 60_000,
      queueSize: 1_000_000,
      requestTimeoutMs: 120_000,
      maxRetries: 100,
      initialBackoffMs: 60_000,
      maxBackoffMs: 300_000,
      maxConcurrentRequests: 16,
      maxEventBytes: 1_048_576,
      maxStoredBytes: 4_194_304,
      segmentsCacheSize: 1_000_000,
    };
    for (const [name, max] of Object.entries(bounds)) {
      const at = resolveOptions({ odp: { [name]: max } });
      expect(at.warnings, name).toEqual([]);
      expect(at.options.odp[name as keyof typeof DEFAULT_ODP]).toBe(max);
      const above = resolveOptions({ odp: { [name]: max + 1 } });
      expect(above.warnings).toEqual([`odp.${name} must be <= ${max}, got ${max + 1}; using ${max}`]);
      expect(above.problems).toEqual([]);
      expect(above.options.odp[name as keyof typeof DEFAULT_ODP]).toBe(max);
    }
    const huge = resolveOptions({ odp: { batchSize: 1e9, maxEventBytes: 1e12 }, waitUntilTimeoutMs: 3_600_000 });
    expect(huge.warnings).toEqual([
      'waitUntilTimeoutMs must be <= 900000, got 3600000; using 900000',
      'odp.batchSize must be <= 500, got 1000000000; using 500',
      'odp.maxEventBytes must be <= 1048576, got 1000000000000; using 1048576',
    ]);
    expect(huge.options.waitUntilTimeoutMs).toBe(900_000);
    // No bound but a timer's: a week of segments cache, and a close() deadline of days, are the host's business.
    expect(resolveOptions({ odp: { segmentsCacheTimeoutMs: 604_800_000 }, closeTimeoutMs: 3e9, datafileUpdateIntervalMs: 86_400_000 }).warnings).toEqual([]);
  });

  it('unknown keys, top level and in odp: one warning each, naming the option most likely meant', () => {
    const { warnings, problems, options } = resolveOptions({
      apiHost: 'https://api.zaius.com',
      logLevl: 'info',
      batchSize: 50,
      eventBatchSize: 50,
      eventFlushInterval: 100,
      eventMaxQueueSize: 100,
      updateInterval: 60_000,
      publicKey: 'k',
      odpOptions: {},
      eventApiTimeout: 100,
      bacthSize: 5,
      sdkkey: 'k',
      colour: 'blue',
      'odp.queueSize': 7,
      odp: { batchsize: 20, flushInterval: 500, maxRetry: 3, queueSize: 5, compresion: 'gzip', sdkKey: 'x', segmentsCache: 5, toString: 1, constructor: 2 },
    } as never);
    expect(problems).toEqual([]);
    expect(warnings).toEqual([
      'unknown option odp.batchsize ignored; did you mean odp.batchSize?',
      'unknown option odp.flushInterval ignored; did you mean odp.flushIntervalMs?',
      'unknown option odp.maxRetry ignored; did you mean odp.maxRetries?',
      'unknown option odp.compresion ignored; did you mean odp.compression?',
      'unknown option odp.sdkKey ignored; did you mean sdkKey?',
      'unknown option odp.segmentsCache ignored; did you mean odp.segmentsCacheSize?',
      'unknown option odp.toString ignored',
      'unknown option odp.constructor ignored',
      'unknown option apiHost ignored; did you mean datafileUrlTemplate?',
      'unknown option logLevl ignored; did you mean logLevel?',
      'unknown option batchSize ignored; did you mean odp.batchSize?',
      'unknown option eventBatchSize ignored; did you mean odp.batchSize?',
      'unknown option eventFlushInterval ignored; did you mean odp.flushIntervalMs?',
      'unknown option eventMaxQueueSize ignored; did you mean odp.queueSize?',
      'unknown option updateInterval ignored; did you mean datafileUpdateIntervalMs?',
      'unknown option publicKey ignored; did you mean sdkKey?',
      'unknown option odpOptions ignored; did you mean odp?',
      'unknown option eventApiTimeout ignored; did you mean odp.requestTimeoutMs?',
      'unknown option bacthSize ignored; did you mean odp.batchSize?',
      'unknown option sdkkey ignored; did you mean sdkKey?',
      'unknown option colour ignored',
      'unknown option odp.queueSize ignored; did you mean odp.queueSize?',
    ]);
    // Ignored means ignored: the known keys beside them still apply, the unknown ones do not.
    expect(options.odp.queueSize).toBe(5);
    expect(options.odp.batchSize).toBe(10);
    expect(options.logLevel).toBe('warn');
  });

  it('logLevel in another case is taken; an unknown one says what it falls back to', () => {
    expect(resolveOptions({ logLevel: 'INFO' as never })).toMatchObject({ problems: [], options: { logLevel: 'info' } });
    expect(resolveOptions({ logLevel: 'verbose' as never })).toMatchObject({ problems: ['logLevel must be one of debug, info, warn, error, silent; using warn'], options: { logLevel: 'warn' } });
  });

  it('with waitUntil, batches are cut at the end of the task: flushIntervalMs becomes 0', () => {
    const waitUntil = () => {};
    const { options, problems } = resolveOptions({ waitUntil, odp: { flushIntervalMs: 5_000 } });
    expect(problems).toEqual([]);
    expect(options.waitUntil).toBe(waitUntil);
    expect(options.odp.flushIntervalMs).toBe(0);
  });
});
