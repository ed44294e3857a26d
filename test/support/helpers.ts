import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../src/types';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The tests' data files, inside the checkout (provenance in test/fixtures/README.md). */
export const FIXTURES = resolve(ROOT, 'test', 'fixtures');
export const API_KEY = 'W4WzcEs-ABgXorzY7h1LCQ';

/** The contract's fixture datafile, with its ODP integration pointed at `host`. */
export function fixtureDatafile(host: string, publicKey = API_KEY): Record<string, unknown> {
  const datafile = JSON.parse(readFixture('datafile.json')) as Record<string, unknown>;
  datafile.integrations = [{ key: 'odp', host, publicKey }];
  return datafile;
}

/** A file under test/fixtures, e.g. 'real/optimizely-go-sdk-odp-datafile.json'. */
export function readFixture(name: string): string {
  return readFileSync(resolve(FIXTURES, name), 'utf8');
}

export interface CapturedLogger extends Logger {
  lines: Array<{ level: string; message: string }>;
  text(): string;
}

/** A logger that keeps every line, to assert on warnings and on what must never be logged. */
export function captureLogger(): CapturedLogger {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (message: string) => {
    lines.push({ level, message });
  };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => lines.map((line) => `${line.level}: ${line.message}`).join('\n'),
  };
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
