import { isRecord } from '../core/values';
import type { LogLevel, Logger, OdpClientConfig, OdpEvent, OdpOptions, OdpSegments } from '../types';

/**
 * `odp` counts: default, least allowed value, and the upper bound a larger value is clamped to (with
 * a warning). One table, so names are written once; README's Configuration table lists the bounds.
 */
const ODP_COUNTS = {
  // One request carries one batch, and ODP takes at most 500 events per request.
  batchSize: [10, 1, 500],
  flushIntervalMs: [1_000, 0, 60_000],
  queueSize: [10_000, 1, 1_000_000],
  requestTimeoutMs: [10_000, 1, 120_000],
  maxRetries: [10, 0, 100],
  initialBackoffMs: [200, 0, 60_000],
  // As long as the longest Retry-After honoured.
  maxBackoffMs: [30_000, 0, 300_000],
  maxConcurrentRequests: [2, 1, 16],
  maxEventBytes: [32_768, 256, 1_048_576],
  // localStorage holds about 5 MB per origin, for every script of the site.
  maxStoredBytes: [262_144, 0, 4_194_304],
  segmentsCacheSize: [10_000, 0, 1_000_000],
  // 0 keeps an answer until it is evicted, so no time is too long.
  segmentsCacheTimeoutMs: [600_000, 0, Infinity],
} as const;

/** Top-level counts, likewise. Delays without a bound here are clamped to what a timer holds (~24.8 days). */
const TOP_COUNTS = {
  datafileUpdateIntervalMs: [300_000, 0, Infinity],
  closeTimeoutMs: [5_000, 0, Infinity],
  waitUntilTimeoutMs: [25_000, 0, 900_000],
} as const;

/** `odp` switches and their defaults. */
const ODP_FLAGS = { disabled: false, allowInsecureHost: false } as const;

type OdpCountName = keyof typeof ODP_COUNTS;
type OdpFlagName = keyof typeof ODP_FLAGS;
type TopCountName = keyof typeof TOP_COUNTS;

/** Every key `createInstance` reads; another key is a mistake worth a warning. */
const TOP_KEYS = [
  'datafile', 'sdkKey', 'datafileUrlTemplate', 'odp', 'logger', 'logLevel', 'beforeSend', 'optOut',
  'honorGlobalPrivacyControl', 'vuid', 'waitUntil', 'segments', ...(Object.keys(TOP_COUNTS) as TopCountName[]),
] as const;
const ODP_KEYS = [...(Object.keys(ODP_COUNTS) as OdpCountName[]), ...(Object.keys(ODP_FLAGS) as OdpFlagName[]), 'compression'] as const;
// Compile-time checks that the lists name every option of the public types (and only those).
type Missing<T, K> = Exclude<keyof T, K> extends never ? true : Exclude<keyof T, K>;
const topComplete: Missing<OdpClientConfig, (typeof TOP_KEYS)[number]> = true;
const odpComplete: Missing<OdpOptions, (typeof ODP_KEYS)[number]> = true;
void [topComplete, odpComplete];

/**
 * Names users bring from Optimizely's JavaScript SDK (and the ODP host and key, which come from the
 * datafile here), and the option that does that job in this SDK.
 */
const FAMILIAR: Record<string, string> = {
  apihost: 'datafileUrlTemplate',
  host: 'datafileUrlTemplate',
  urltemplate: 'datafileUrlTemplate',
  updateinterval: 'datafileUpdateIntervalMs',
  apikey: 'sdkKey',
  publickey: 'sdkKey',
  odpoptions: 'odp',
  eventbatchsize: 'odp.batchSize',
  eventflushinterval: 'odp.flushIntervalMs',
  eventmaxqueuesize: 'odp.queueSize',
  segmentscachetimeout: 'odp.segmentsCacheTimeoutMs',
  timeout: 'odp.requestTimeoutMs',
};

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
  /** The segments extension given (`odp-sdk/segments`); undefined when none was. */
  segments: OdpSegments | undefined;
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
 * `problems` (the client logs them as errors). A value above its bound is clamped, and an unknown
 * key ignored, each with a line in `warnings` (logged as warnings).
 */
export function resolveOptions(config: OdpClientConfig | undefined): { options: ResolvedOptions; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const input: OdpClientConfig = isRecord(config) ? config : {};
  if (config !== undefined && !isRecord(config)) problems.push('createInstance expects a config object');
  const odpInput: Record<string, unknown> = isRecord(input.odp) ? (input.odp as Record<string, unknown>) : {};
  warnUnknown(input, '', warnings);
  warnUnknown(odpInput, 'odp.', warnings);

  const count = (value: unknown, name: string, [fallback, min, max]: readonly [number, number, number]): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      problems.push(`${name} must be an integer >= ${min}; using ${fallback}`);
      return fallback;
    }
    if (value <= max) return value;
    warnings.push(`${name} ${value} is above its upper bound; using ${max}`);
    return max;
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
  const segments = (input.segments as OdpSegments | undefined)?.name === 'odp-sdk/segments' ? input.segments : undefined;
  if (input.segments !== undefined && !segments) problems.push("segments must be the segments export of 'odp-sdk/segments'");
  const waitUntil = typeof input.waitUntil === 'function' ? input.waitUntil : undefined;
  if (input.waitUntil !== undefined && !waitUntil) problems.push('waitUntil must be a function');
  // 'WARN' or 'Info' mean what they say.
  const level = typeof input.logLevel === 'string' ? (input.logLevel.toLowerCase() as LogLevel) : undefined;
  const levelOk = level !== undefined && LEVELS.includes(level);
  if (input.logLevel !== undefined && !levelOk) problems.push(`logLevel must be one of ${LEVELS.join(', ')}; using 'warn'`);

  const odp = {} as ResolvedOptions['odp'];
  for (const name of Object.keys(ODP_COUNTS) as OdpCountName[]) odp[name] = count(odpInput[name], `odp.${name}`, ODP_COUNTS[name]);
  for (const name of Object.keys(ODP_FLAGS) as OdpFlagName[]) odp[name] = flag(odpInput[name], `odp.${name}`, ODP_FLAGS[name]);
  const compression = odpInput.compression;
  odp.compression = compression === 'gzip' ? compression : 'none';
  if (compression !== undefined && compression !== 'gzip' && compression !== 'none') problems.push("odp.compression must be 'gzip' or 'none'; using 'none'");
  // A serverless request may end before a flush timer fires: with waitUntil, batches are cut at the end of the task.
  if (waitUntil) odp.flushIntervalMs = 0;

  const options: ResolvedOptions = {
    datafile,
    sdkKey,
    datafileUrlTemplate: templateOk ? template : DEFAULT_URL_TEMPLATE,
    datafileUpdateIntervalMs: count(input.datafileUpdateIntervalMs, 'datafileUpdateIntervalMs', TOP_COUNTS.datafileUpdateIntervalMs),
    closeTimeoutMs: count(input.closeTimeoutMs, 'closeTimeoutMs', TOP_COUNTS.closeTimeoutMs),
    vuid: flag(input.vuid, 'vuid', false),
    beforeSend: typeof input.beforeSend === 'function' ? input.beforeSend : undefined,
    optOut: flag(input.optOut, 'optOut', false),
    honorGlobalPrivacyControl: flag(input.honorGlobalPrivacyControl, 'honorGlobalPrivacyControl', false),
    segments,
    waitUntil,
    waitUntilTimeoutMs: count(input.waitUntilTimeoutMs, 'waitUntilTimeoutMs', TOP_COUNTS.waitUntilTimeoutMs),
    logger: loggerOk ? (input.logger as Logger) : console,
    logLevel: levelOk ? level : 'warn',
    odp,
  };
  return { options, problems, warnings };
}

/** A warning per key that no option reads, with the likeliest one meant. */
function warnUnknown(input: object, prefix: string, warnings: string[]): void {
  const known: readonly string[] = prefix ? ODP_KEYS : TOP_KEYS;
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue;
    const guess = closest(key, prefix);
    warnings.push(`unknown option ${prefix}${key} is ignored${guess ? `; did you mean ${guess}?` : ''}`);
  }
}

/**
 * The option most likely meant by an unknown `key`: a familiar name from Optimizely's SDK, the same
 * name in another case or at the other level (`batchSize` beside `odp`), a known name it starts
 * (`flushInterval`) or names in the singular (`maxRetry`), or the nearest by edit distance (at most
 * 1 in 4 characters, 1 at least).
 */
function closest(key: string, prefix: string): string | undefined {
  const lower = key.toLowerCase();
  if (Object.prototype.hasOwnProperty.call(FAMILIAR, lower)) return FAMILIAR[lower];
  const names = [...TOP_KEYS, ...ODP_KEYS.map((name) => `odp.${name}`)];
  // Own level first: equal distances favour it.
  if (prefix) names.unshift(...names.splice(TOP_KEYS.length));
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 4)) + 1;
  for (const name of names) {
    const bare = name.replace('odp.', '').toLowerCase();
    const distance = bare === lower ? 0 : (bare.startsWith(lower) && lower.length >= 5) || singular(bare) === singular(lower) ? 0.5 : editDistance(lower, bare);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** `maxRetries` and `maxRetry` alike. */
function singular(name: string): string {
  return name.replace(/ies$/, 'y').replace(/s$/, '');
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, before[j - 2]! + 1);
      row.push(value);
    }
    before = previous;
    previous = row;
  }
  return previous[b.length]!;
}

function isLogger(value: unknown): value is Logger {
  return isRecord(value) && ['debug', 'info', 'warn', 'error'].every((name) => typeof value[name] === 'function');
}
