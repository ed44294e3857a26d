import type { Logger, LogLevel } from '../types';

/** The levels, least severe first: a level's rank is its index. */
export const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
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

  /** `sink`: the host's logger, the console when none; an unknown `level` means 'warn'. */
  constructor(
    private readonly sink: Logger = console,
    level: LogLevel,
  ) {
    this.rank = LOG_LEVELS.indexOf(level);
    if (this.rank < 0) this.rank = 2;
  }

  /** Masks `value` in every later line (API keys). */
  addSecret(value: string): void {
    if (value) this.secrets.add(value);
  }

  /** `text` with every registered secret masked: for messages that leave the SDK other than as log lines (errors). */
  redact(text: string): string {
    for (const secret of this.secrets) text = text.split(secret).join('***');
    return text;
  }

  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.rank;
  }

  /**
   * Logs `message` the first time `key` is seen (at most {@link MAX_ONCE_KEYS} keys); returns false,
   * logging nothing, for a key seen before or beyond the bound.
   */
  once(level: Exclude<LogLevel, 'silent'>, key: string, message: string): boolean {
    if (this.logged.has(key) || this.logged.size >= MAX_ONCE_KEYS) return false;
    this.logged.add(key);
    this.output(level, message);
    return true;
  }

  debug(message: string): void {
    this.output('debug', message);
  }
  info(message: string): void {
    this.output('info', message);
  }
  warn(message: string): void {
    this.output('warn', message);
  }
  error(message: string): void {
    this.output('error', message);
  }

  private output(level: Exclude<LogLevel, 'silent'>, message: string): void {
    if (!this.enabled(level)) return;
    try {
      this.sink[level](this.redact(`[odp-sdk] ${message}`));
    } catch {
      // A broken logger must not break event delivery.
    }
  }
}
