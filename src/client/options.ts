import type { LogLevel, Logger, OdpClientConfig } from '../types';

/** Options after defaults and checks: read once at `createInstance`, never again. */
export interface ResolvedOptions {
  datafile: string | object | undefined;
  sdkKey: string | undefined;
  datafileUrlTemplate: string;
  datafileUpdateIntervalMs: number;
  closeTimeoutMs: number;
  vuid: boolean;
  logger: Logger;
  logLevel: LogLevel;
  odp: {
    disabled: boolean;
    batchSize: number;
    flushIntervalMs: number;
    queueSize: number;
    requestTimeoutMs: number;
    maxRetries: number;
    initialBackoffMs: number;
    maxBackoffMs: number;
    maxConcurrentRequests: number;
    maxEventBytes: number;
    allowInsecureHost: boolean;
    maxStoredBytes: number;
    segmentsCacheSize: number;
    segmentsCacheTimeoutMs: number;
  };
}

export const DEFAULTS = {
  datafileUrlTemplate: 'https://cdn.optimizely.com/datafiles/{sdkKey}.json',
  datafileUpdateIntervalMs: 300_000,
  closeTimeoutMs: 5_000,
  logLevel: 'warn' as LogLevel,
  odp: {
    disabled: false,
    batchSize: 10,
    flushIntervalMs: 1_000,
    queueSize: 10_000,
    requestTimeoutMs: 10_000,
    maxRetries: 10,
    initialBackoffMs: 200,
    maxBackoffMs: 30_000,
    maxConcurrentRequests: 1,
    maxEventBytes: 32_768,
    allowInsecureHost: false,
    maxStoredBytes: 262_144,
    segmentsCacheSize: 10_000,
    segmentsCacheTimeoutMs: 600_000,
  },
};

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * Applies defaults. A wrong value never throws: it is replaced by its default and reported in
 * `problems`, which the client logs once it has a logger.
 */
export function resolveOptions(config: OdpClientConfig | undefined): { options: ResolvedOptions; problems: string[] } {
  const problems: string[] = [];
  const input: OdpClientConfig = isObject(config) ? config : {};
  if (config !== undefined && !isObject(config)) problems.push('createInstance expects a config object');
  const odp: Record<string, unknown> = isObject(input.odp) ? (input.odp as Record<string, unknown>) : {};

  const count = (value: unknown, name: string, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min) return value;
    problems.push(`${name} must be an integer >= ${min}; using ${fallback}`);
    return fallback;
  };
  const flag = (value: unknown, name: string, fallback: boolean): boolean => {
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    problems.push(`${name} must be a boolean; using ${fallback}`);
    return fallback;
  };

  let datafile = input.datafile;
  if (datafile !== undefined && typeof datafile !== 'string' && !isObject(datafile)) {
    problems.push('datafile must be a JSON string or an object');
    datafile = undefined;
  }
  const sdkKey = typeof input.sdkKey === 'string' && input.sdkKey !== '' ? input.sdkKey : undefined;
  if (input.sdkKey !== undefined && sdkKey === undefined) problems.push('sdkKey must be a non-empty string');
  let template = DEFAULTS.datafileUrlTemplate;
  if (typeof input.datafileUrlTemplate === 'string' && input.datafileUrlTemplate.includes('{sdkKey}')) {
    template = input.datafileUrlTemplate;
  } else if (input.datafileUrlTemplate !== undefined) {
    problems.push('datafileUrlTemplate must be a string containing {sdkKey}; using the default');
  }
  const logger = isLogger(input.logger) ? input.logger : console;
  if (input.logger !== undefined && !isLogger(input.logger)) problems.push('logger must have debug, info, warn and error methods');
  const logLevel = LEVELS.includes(input.logLevel as LogLevel) ? (input.logLevel as LogLevel) : DEFAULTS.logLevel;
  if (input.logLevel !== undefined && logLevel !== input.logLevel) problems.push(`logLevel must be one of ${LEVELS.join(', ')}`);

  const d = DEFAULTS.odp;
  const options: ResolvedOptions = {
    datafile,
    sdkKey,
    datafileUrlTemplate: template,
    datafileUpdateIntervalMs: count(input.datafileUpdateIntervalMs, 'datafileUpdateIntervalMs', DEFAULTS.datafileUpdateIntervalMs, 0),
    closeTimeoutMs: count(input.closeTimeoutMs, 'closeTimeoutMs', DEFAULTS.closeTimeoutMs, 0),
    vuid: flag(input.vuid, 'vuid', false),
    logger,
    logLevel,
    odp: {
      disabled: flag(odp.disabled, 'odp.disabled', d.disabled),
      batchSize: count(odp.batchSize, 'odp.batchSize', d.batchSize, 1),
      flushIntervalMs: count(odp.flushIntervalMs, 'odp.flushIntervalMs', d.flushIntervalMs, 0),
      queueSize: count(odp.queueSize, 'odp.queueSize', d.queueSize, 1),
      requestTimeoutMs: count(odp.requestTimeoutMs, 'odp.requestTimeoutMs', d.requestTimeoutMs, 1),
      maxRetries: count(odp.maxRetries, 'odp.maxRetries', d.maxRetries, 0),
      initialBackoffMs: count(odp.initialBackoffMs, 'odp.initialBackoffMs', d.initialBackoffMs, 0),
      maxBackoffMs: count(odp.maxBackoffMs, 'odp.maxBackoffMs', d.maxBackoffMs, 0),
      maxConcurrentRequests: count(odp.maxConcurrentRequests, 'odp.maxConcurrentRequests', d.maxConcurrentRequests, 1),
      maxEventBytes: count(odp.maxEventBytes, 'odp.maxEventBytes', d.maxEventBytes, 256),
      allowInsecureHost: flag(odp.allowInsecureHost, 'odp.allowInsecureHost', d.allowInsecureHost),
      maxStoredBytes: count(odp.maxStoredBytes, 'odp.maxStoredBytes', d.maxStoredBytes, 0),
      segmentsCacheSize: count(odp.segmentsCacheSize, 'odp.segmentsCacheSize', d.segmentsCacheSize, 0),
      segmentsCacheTimeoutMs: count(odp.segmentsCacheTimeoutMs, 'odp.segmentsCacheTimeoutMs', d.segmentsCacheTimeoutMs, 0),
    },
  };
  return { options, problems };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLogger(value: unknown): value is Logger {
  if (!isObject(value)) return false;
  return ['debug', 'info', 'warn', 'error'].every((name) => typeof value[name] === 'function');
}
