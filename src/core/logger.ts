import type { Logger, LogLevel } from '../types';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };
const PREFIX = '[odp-sdk] ';
/** Distinct messages {@link SafeLogger.once} remembers: a host that makes endless new ones cannot grow memory. */
const MAX_ONCE_KEYS = 100;

/**
 * The client's logger: filters by level, prefixes lines, hides every registered secret,
 * and never lets a faulty user logger throw into the SDK.
 */
export class SafeLogger {
  private readonly rank: number;
  private readonly secrets = new Set<string>();
  private readonly logged = new Set<string>();

  constructor(
    private readonly sink: Logger,
    level: LogLevel,
  ) {
    this.rank = RANK[level] ?? RANK.warn;
  }

  /** Masks `value` in every later line (API keys). */
  addSecret(value: string): void {
    if (value) this.secrets.add(value);
  }

  /** `text` with every registered secret masked: for messages that leave the SDK other than as log lines (errors). */
  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.rank;
  }

  /**
   * Logs `message` the first time `key` is seen (at most {@link MAX_ONCE_KEYS} keys); returns false,
   * logging nothing, for a key seen before or beyond the bound.
   */
  once(level: Exclude<LogLevel, 'silent'>, key: string, message: string): boolean {
    if (this.logged.has(key) || this.logged.size >= MAX_ONCE_KEYS) return false;
    this.logged.add(key);
    this.write(level, message);
    return true;
  }

  debug(message: string): void {
    this.write('debug', message);
  }
  info(message: string): void {
    this.write('info', message);
  }
  warn(message: string): void {
    this.write('warn', message);
  }
  error(message: string): void {
    this.write('error', message);
  }

  private write(level: Exclude<LogLevel, 'silent'>, message: string): void {
    if (RANK[level] < this.rank) return;
    const line = this.redact(PREFIX + message);
    try {
      this.sink[level](line);
    } catch {
      // A broken logger must not break event delivery.
    }
  }
}
