#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startCollector } from './collector.js';
import type { Collector, CollectorFaults } from './collector.js';
import { isRecord } from './types.js';

/**
 * What /v3/graphql answers without `--segments`: the users of the README's Real-Time Segments example
 * and of examples/node, so that both answer out of the box (an unknown user gets ODP's error).
 */
const EXAMPLE_SEGMENTS: Record<string, string[]> = { user123: ['has_email'], user100: ['has_email', 'cart_abandoner'] };
/** A long inspector session keeps this many records, not every event since it started. */
const CLI_MAX_RECORDS = 10_000;

const USAGE = `Usage: odp-sdk-collector [options]

A local ODP-compatible collector: POST /v3/events, POST /v3/graphql, GET /datafiles/{sdkKey}.json,
GET /stats, GET /events, POST /control/faults, POST /control/reset; its live inspector page is GET /.

Options:
  --port N             port to listen on (default 8787; 0 picks a free one)
  --api-key K          expected x-api-key (default W4WzcEs-ABgXorzY7h1LCQ)
  --fail-rate R        share 0..1 of event requests answered with --fail-status
  --fail-status S      status for --fail-rate failures (default 500)
  --status S           answer EVERY event request with status S (e.g. 503)
  --retry-after V      Retry-After header on non-2xx answers (seconds or HTTP date)
  --latency MS         delay before answering event requests
  --reset-rate R       share 0..1 of event requests whose connection is reset
  --max-body-bytes N   answer 413 to bodies larger than N bytes
  --segments FILE      JSON file {"userId": ["segment", ...]} for /v3/graphql
                       (default: the example users, ${JSON.stringify(EXAMPLE_SEGMENTS)})
  --max-records N      newest events, requests and ids kept for GET /events and the
                       inspector (default ${CLI_MAX_RECORDS}; the counters count everything)
  --quiet              do not print received events
  --help               show this help`;

class UsageError extends Error {}

function number(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new UsageError(`--${flag} needs a number, got "${value}"`);
  return parsed;
}

function readSegments(file: string | undefined): Record<string, string[]> | undefined {
  if (file === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--segments ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const valid = isRecord(parsed) && Object.values(parsed).every((list) => Array.isArray(list) && list.every((name) => typeof name === 'string'));
  if (!valid) throw new UsageError(`--segments ${file}: expected {"userId": ["segment", ...]}`);
  return parsed as Record<string, string[]>; // shape checked just above
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'api-key': { type: 'string' },
      'fail-rate': { type: 'string' },
      'fail-status': { type: 'string' },
      status: { type: 'string' },
      'retry-after': { type: 'string' },
      latency: { type: 'string' },
      'reset-rate': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      segments: { type: 'string' },
      'max-records': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }

  const faults: CollectorFaults = {
    failRate: number('fail-rate', values['fail-rate']),
    failStatus: number('fail-status', values['fail-status']),
    status: number('status', values.status),
    retryAfter: values['retry-after'],
    latencyMs: number('latency', values.latency),
    resetRate: number('reset-rate', values['reset-rate']),
    maxBodyBytes: number('max-body-bytes', values['max-body-bytes']),
  };
  let collector: Collector;
  try {
    collector = await startCollector({
      port: number('port', values.port) ?? 8787,
      apiKey: values['api-key'],
      faults,
      segments: readSegments(values.segments) ?? EXAMPLE_SEGMENTS,
      maxRecords: number('max-records', values['max-records']) ?? CLI_MAX_RECORDS,
      log: values.quiet ? undefined : (line) => console.log(line),
    });
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
      throw new Error(`port ${values.port ?? 8787} is already in use`);
    }
    throw error instanceof Error && !(error instanceof UsageError) && /^(fault |maxRecords )/.test(error.message)
      ? new UsageError(error.message)
      : error;
  }
  console.log(`odp collector listening on ${collector.url}`);
  console.log(`odp collector inspector: open ${collector.url}/ in a browser (Ctrl-C stops the collector)`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(130); // a second signal: stop waiting
    stopping = true;
    collector.close().then(() => {
      const s = collector.stats();
      console.log(`odp collector stopped (${signal}): ${s.events} event(s) in ${s.accepted}/${s.requests} accepted request(s)`);
      process.exit(0);
    }, () => process.exit(1));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`odp collector: ${message}`);
  if (error instanceof UsageError || (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    console.error(`\n${USAGE}`);
    process.exitCode = 2;
  } else {
    process.exitCode = 1;
  }
});
