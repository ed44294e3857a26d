import { isRecord } from '../core/values';
import type { LogLevel, Logger, OdpClientConfig, OdpEvent } from '../types';

/** `odp` counts: default and least allowed value. One table, so names are written once. */
const ODP_COUNTS = {
  batchSize: [10, 1],
  flushIntervalMs: [1_000, 0],
  queueSize: [10_000, 1],
  requestTimeoutMs: [10_000, 1],
  maxRetries: [10, 0],
  initialBackoffMs: [200, 0],
  maxBackoffMs: [30_000, 0],
  maxConcurrentRequests: [2, 1],
  maxEventBytes: [32_768, 256],
  maxStoredBytes: [262_144, 0],
  segmentsCacheSize: [10_000, 0],
  segmentsCacheTimeoutMs: [600_000, 0],
} as const;

/** `odp` switches and their defaults. */
const ODP_FLAGS = { disabled: false, allowInsecureHost: false } as const;

type OdpCountName = keyof typeof ODP_COUNTS;
type OdpFlagName = keyof typeof ODP_FLAGS;

/** Options after defaults and checks: read once at `createInstance`, never again. */
export interface ResolvedOptions {
  datafile: string | object | undefined;
  sdkKey: string | undefined;
  datafileUrlTemplate: string;
  datafileUpdateIntervalMs: number;
  closeTimeoutMs: number;
  vuid: boolean;
  beforeSend: ((event: OdpEvent) => OdpEvent | null) | undefined;
  optOut: boolean;
  honorGlobalPrivacyControl: boolean;
  /** The host's `waitUntil`; undefined when none was given. */
  waitUntil: ((promise: Promise<unknown>) => void) | undefined;
  waitUntilTimeoutMs: number;
  logger: Logger;
  logLevel: LogLevel;
  odp: Record<OdpCountName, number> & Record<OdpFlagName, boolean> & { compression: 'gzip' | 'none' };
}

const DEFAULT_URL_TEMPLATE = 'https://cdn.optimizely.com/datafiles/{sdkKey}.json';
const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * Applies defaults. A wrong value never throws: it is replaced by its default and reported in
 * `problems`, which the client logs once it has a logger.
 */
export function resolveOptions(config: OdpClientConfig | undefined): { options: ResolvedOptions; problems: string[] } {
  const problems: string[] = [];
  const input: OdpClientConfig = isRecord(config) ? config : {};
  if (config !== undefined && !isRecord(config)) problems.push('createInstance expects a config object');
  const odpInput: Record<string, unknown> = isRecord(input.odp) ? (input.odp as Record<string, unknown>) : {};

  const count = (value: unknown, name: string, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isInteger(value) && value >= min) return value;
    problems.push(`${name} must be an integer >= ${min}; using ${fallback}`);
    return fallback;
  };
  const flag = (value: unknown, name: string, fallback: boolean): boolean => {
    if (value === undefined || typeof value === 'boolean') return value ?? fallback;
    problems.push(`${name} must be a boolean; using ${fallback}`);
    return fallback;
  };

  let datafile = input.datafile;
  if (datafile !== undefined && typeof datafile !== 'string' && !isRecord(datafile)) {
    problems.push('datafile must be a JSON string or an object');
    datafile = undefined;
  }
  const sdkKey = typeof input.sdkKey === 'string' && input.sdkKey !== '' ? input.sdkKey : undefined;
  if (input.sdkKey !== undefined && sdkKey === undefined) problems.push('sdkKey must be a non-empty string');
  const template = input.datafileUrlTemplate;
  const templateOk = typeof template === 'string' && template.includes('{sdkKey}');
  if (template !== undefined && !templateOk) problems.push('datafileUrlTemplate must be a string containing {sdkKey}; using the default');
  const loggerOk = isLogger(input.logger);
  if (input.logger !== undefined && !loggerOk) problems.push('logger must have debug, info, warn and error methods');
  if (input.beforeSend !== undefined && typeof input.beforeSend !== 'function') problems.push('beforeSend must be a function; events are sent unchanged');
  const waitUntil = typeof input.waitUntil === 'function' ? input.waitUntil : undefined;
  if (input.waitUntil !== undefined && !waitUntil) problems.push('waitUntil must be a function');
  const levelOk = LEVELS.includes(input.logLevel as LogLevel);
  if (input.logLevel !== undefined && !levelOk) problems.push(`logLevel must be one of ${LEVELS.join(', ')}`);

  const odp = {} as ResolvedOptions['odp'];
  for (const name of Object.keys(ODP_COUNTS) as OdpCountName[]) {
    const [fallback, min] = ODP_COUNTS[name];
    odp[name] = count(odpInput[name], `odp.${name}`, fallback, min);
  }
  for (const name of Object.keys(ODP_FLAGS) as OdpFlagName[]) {
    odp[name] = flag(odpInput[name], `odp.${name}`, ODP_FLAGS[name]);
  }
  const compression = odpInput.compression;
  odp.compression = compression === 'gzip' ? compression : 'none';
  if (compression !== undefined && compression !== 'gzip' && compression !== 'none') problems.push("odp.compression must be 'gzip' or 'none'; using 'none'");
  // A serverless request may end before a flush timer fires: with waitUntil, batches are cut at the end of the task.
  if (waitUntil) odp.flushIntervalMs = 0;

  const options: ResolvedOptions = {
    datafile,
    sdkKey,
    datafileUrlTemplate: templateOk ? template : DEFAULT_URL_TEMPLATE,
    datafileUpdateIntervalMs: count(input.datafileUpdateIntervalMs, 'datafileUpdateIntervalMs', 300_000, 0),
    closeTimeoutMs: count(input.closeTimeoutMs, 'closeTimeoutMs', 5_000, 0),
    vuid: flag(input.vuid, 'vuid', false),
    beforeSend: typeof input.beforeSend === 'function' ? input.beforeSend : undefined,
    optOut: flag(input.optOut, 'optOut', false),
    honorGlobalPrivacyControl: flag(input.honorGlobalPrivacyControl, 'honorGlobalPrivacyControl', false),
    waitUntil,
    waitUntilTimeoutMs: count(input.waitUntilTimeoutMs, 'waitUntilTimeoutMs', 25_000, 0),
    logger: loggerOk ? (input.logger as Logger) : console,
    logLevel: levelOk ? (input.logLevel as LogLevel) : 'warn',
    odp,
  };
  return { options, problems };
}

function isLogger(value: unknown): value is Logger {
  return isRecord(value) && ['debug', 'info', 'warn', 'error'].every((name) => typeof value[name] === 'function');
}
