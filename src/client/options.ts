import { LOG_LEVELS } from '../core/logger';
import { isRecord } from '../core/values';
import type { LogLevel, Logger, OdpClientConfig, OdpEvent, OdpOptions, OdpSegments } from '../types';

/** A count: its least allowed value, the upper bound a larger value is clamped to (with a warning), its default. */
type Count = readonly [min: number, max: number, fallback: number];
/** Any other option: what it must be (said when it is not), the test, its default (none: the option is ignored). */
type Check = readonly [what: string, ok: (value: unknown) => boolean, fallback?: unknown];
/** Options by name; a nested table is an object of options (`odp`). */
interface Table {
  [name: string]: Count | Check | Table;
}

/** A logger's methods: every level but 'silent'. */
const LOGGER_METHODS = LOG_LEVELS.slice(0, 4);
const FUNCTION: Check = ['a function', (value) => typeof value == 'function'];
const FLAG: Check = ['a boolean', (value) => typeof value == 'boolean', false];

/** `odp` options: see {@link OPTIONS}. */
const ODP = {
  disabled: FLAG,
  // One request carries one batch, and ODP takes at most 500 events per request.
  batchSize: [1, 500, 10],
  flushIntervalMs: [0, 60_000, 1_000],
  queueSize: [1, 1_000_000, 10_000],
  requestTimeoutMs: [1, 120_000, 10_000],
  maxRetries: [0, 100, 10],
  initialBackoffMs: [0, 60_000, 200],
  // As long as the longest Retry-After honoured.
  maxBackoffMs: [0, 300_000, 30_000],
  maxConcurrentRequests: [1, 16, 2],
  maxEventBytes: [256, 1_048_576, 32_768],
  // localStorage holds about 5 MB per origin, for every script of the site.
  maxStoredBytes: [0, 4_194_304, 262_144],
  allowInsecureHost: FLAG,
  segmentsCacheSize: [0, 1_000_000, 10_000],
  // 0 keeps an answer until it is evicted, so no time is too long.
  segmentsCacheTimeoutMs: [0, Infinity, 600_000],
  compression: ["'gzip' or 'none'", (value) => value === 'gzip' || value === 'none', 'none'],
} satisfies Table;

/**
 * Every option `createInstance` reads: one table, so each name, default and bound is written once
 * (README's Configuration table lists them); another key is a mistake worth a warning. Delays without
 * a bound of their own are clamped to what a timer holds (~24.8 days) where they are used.
 */
const OPTIONS = {
  datafile: ['a JSON string or an object', (value) => typeof value == 'string' || isRecord(value)],
  sdkKey: ['a non-empty string', (value) => typeof value == 'string' && value != ''],
  datafileUrlTemplate: ['a string containing {sdkKey}', (value) => typeof value == 'string' && value.includes('{sdkKey}'), 'https://cdn.optimizely.com/datafiles/{sdkKey}.json'],
  datafileUpdateIntervalMs: [0, Infinity, 300_000],
  closeTimeoutMs: [0, Infinity, 5_000],
  // None given or a bad one: SafeLogger writes to the console.
  logger: [`an object with ${LOGGER_METHODS.join(', ')} methods`, (value) => isRecord(value) && LOGGER_METHODS.every((name) => typeof value[name] == 'function')],
  // 'WARN' or 'Info' mean what they say.
  logLevel: [`one of ${LOG_LEVELS.join(', ')}`, (value) => typeof value == 'string' && LOG_LEVELS.includes(value.toLowerCase() as LogLevel), 'warn'],
  beforeSend: FUNCTION,
  optOut: FLAG,
  honorGlobalPrivacyControl: FLAG,
  vuid: FLAG,
  segments: ["the export of 'odp-sdk/segments'", (value) => isRecord(value) && value.name == 'odp-sdk/segments'],
  waitUntil: FUNCTION,
  waitUntilTimeoutMs: [0, 900_000, 25_000],
  odp: ODP,
} satisfies Table;

// Compile-time checks that the tables name every option of the public types.
type Missing<T, K> = Exclude<keyof T, K> extends never ? true : Exclude<keyof T, K>;
const complete: [Missing<OdpClientConfig, keyof typeof OPTIONS>, Missing<OdpOptions, keyof typeof ODP>] = [true, true];
void complete;

/**
 * Endings of names users bring from Optimizely's JavaScript SDK (`apiHost`, `publicKey`, `odpOptions`,
 * `eventApiTimeout`; the ODP host and key come from the datafile here), and the option that does that
 * job in this SDK. Asked only when no option's name is close.
 */
const FAMILIAR = { host: 'datafileUrlTemplate', apikey: 'sdkKey', publickey: 'sdkKey', option: 'odp', timeout: 'odp.requestTimeoutMs' };

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
  /** The host's logger; undefined: the console. */
  logger: Logger | undefined;
  logLevel: LogLevel;
  odp: Required<OdpOptions>;
}

/**
 * Applies defaults. A wrong value never throws: it is replaced by its default and reported in
 * `problems` (the client logs them as errors). A value above its bound is clamped, and an unknown
 * key ignored, each with a line in `warnings` (logged as warnings). Every line reads
 * "name must be what; using the value used" (or "; ignored" when no value is used).
 */
export function resolveOptions(config: OdpClientConfig | undefined): { options: ResolvedOptions; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const must = (lines: string[], name: string, what: string, using: unknown): void => {
    lines.push(`${name} must be ${what}; ${using === undefined ? 'ignored' : `using ${using}`}`);
  };
  /** `input` checked against `table`; `path`: where `input` is ('' for the config itself, else 'odp.'). */
  const resolve = (table: Table, input: unknown, path: string): Record<string, unknown> => {
    const output: Record<string, unknown> = {};
    if (input !== undefined && !isRecord(input)) must(problems, path.slice(0, -1) || 'config', 'an object', undefined);
    const given = isRecord(input) ? input : {};
    for (const [name, spec] of Object.entries(table)) {
      const value = given[name];
      let result = (spec as Check)[2];
      if (!Array.isArray(spec)) result = resolve(spec as Table, value, `${path}${name}.`);
      else if (value !== undefined) {
        if (typeof spec[0] == 'number') {
          const [min, max] = spec as Count;
          if (!Number.isInteger(value) || (value as number) < min) must(problems, path + name, `an integer >= ${min}`, result);
          else {
            result = Math.min(value as number, max);
            if ((value as number) > max) must(warnings, path + name, `<= ${max}, got ${value}`, max);
          }
        } else if ((spec as Check)[1](value)) result = value;
        else must(problems, path + name, spec[0] as string, result);
      }
      output[name] = result;
    }
    for (const key of Object.keys(given)) {
      if (Object.keys(table).includes(key)) continue;
      const guess = suggest(key);
      warnings.push(`unknown option ${path}${key} ignored${guess ? `; did you mean ${guess}?` : ''}`);
    }
    return output;
  };
  const options = resolve(OPTIONS, config, '') as unknown as ResolvedOptions;
  options.logLevel = options.logLevel.toLowerCase() as LogLevel;
  // A serverless request may end before a flush timer fires: with waitUntil, batches are cut at the end of the task.
  if (options.waitUntil) options.odp.flushIntervalMs = 0;
  return { options, problems, warnings };
}

/** A name compared without case, a trailing `Ms` or a plural: `flushInterval`, `maxRetry` and `batchsize` meet their options. */
const plain = (name: string): string => name.toLowerCase().replace(/(ies|m?s)$/, '');

/**
 * The option most likely meant by an unknown `key`, at either level (`batchSize` at the top means
 * `odp.batchSize`; no name is used at both): the same plain name; else a name one edit away, or of 9
 * letters or more that it contains or is contained in (`eventBatchSize`, `updateInterval`); else a
 * {@link FAMILIAR} ending.
 */
function suggest(key: string): string | undefined {
  const given = plain(key);
  const names = [OPTIONS, ODP].flatMap((level) => Object.keys(level).map((name) => [plain(name), level === ODP ? `odp.${name}` : name]));
  const find = (close: (known: string) => boolean): string | undefined => names.find(([known]) => close(known!))?.[1];
  return (
    find((known) => known === given) ??
    find((known) => oneEdit(given, known) || (known.length > 8 && given.includes(known)) || (given.length > 8 && known.includes(given))) ??
    Object.entries(FAMILIAR).find(([ending]) => given.endsWith(ending))?.[1]
  );
}

/** Whether one edit (insert, delete, replace, or swapping two neighbours) turns `a` into `b`. */
function oneEdit(a: string, b: string): boolean {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const [x, y] = [a.slice(i), b.slice(i)];
  return x.slice(1) === y.slice(1) || x === y.slice(1) || x.slice(1) === y || (x[0] === y[1] && x[1] === y[0] && x.slice(2) === y.slice(2));
}
