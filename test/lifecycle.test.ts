import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { createInstance, type OdpStats } from '../src/index';
import { checkAccounting, checkRunningAccounting, Ledger } from './support/accounting';
import { API_KEY, captureLogger, fixtureDatafile, ROOT } from './support/helpers';

let collector: Collector;

describe('lifecycle', { timeout: 60_000 }, () => {
  // A collector per test: nothing an earlier test left in flight can land in a later one.
  beforeEach(async () => {
    collector = await startCollector({ apiKey: API_KEY });
  });
  afterEach(() => collector?.close());

  test('close() delivers everything queued, then refuses new events', async (t) => {
    const client = createInstance({ datafile: fixtureDatafile(collector.url), odp: { flushIntervalMs: 60_000, batchSize: 4 } });
    t.after(() => client.close({ timeoutMs: 0 }));
    const ledger = new Ledger(client);
    for (let i = 0; i < 10; i++) ledger.send(i);
    await client.close();
    assert.equal(collector.events.length, 10);
    checkAccounting(ledger, collector.events);
    assert.equal(client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'late' } })?.code, 'closed');
  });

  async function runChild(env: Record<string, string>) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/close-and-exit.ts'], {
      cwd: ROOT,
      env: { ...process.env, COLLECTOR_URL: collector.url, API_KEY, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    let closedAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!closedAt && output.includes('closed')) closedAt = Date.now();
    });
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const guard = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the child did not exit by itself; output: ${output}`));
      }, 15_000);
      child.on('exit', (code) => {
        clearTimeout(guard);
        resolve(code);
      });
    });
    assert.equal(exitCode, 0);
    assert.ok(closedAt > 0, `close() never resolved: the process exited first; output: ${output}`);
    // A real promise with a wide margin: a leaked timer would hold the child for the 60 s flush interval.
    const lingered = Date.now() - closedAt;
    assert.ok(lingered < 5000, `the process lingered ${lingered} ms after close()`);
    return JSON.parse(output.slice(output.indexOf('{'))) as OdpStats;
  }

  test('a child Node process exits by itself right after `await close()`, every event delivered', async () => {
    const stats = await runChild({ EVENTS: '250' });
    assert.equal(stats.accepted, 250);
    assert.equal(stats.delivered, 250);
    assert.equal(collector.stats().distinctIds, 250);
  });

  test('during an outage, `await close()` keeps Node alive through retry backoffs until its deadline, then reports the drops', async () => {
    collector.setFaults({ status: 503 });
    const stats = await runChild({ EVENTS: '20', CLOSE_TIMEOUT: '1200' });
    assert.equal(stats.accepted, 20);
    assert.equal(stats.delivered, 0);
    assert.equal(stats.droppedByReason.closed, 20);
    assert.ok(collector.stats().requests >= 2, 'it kept retrying until the deadline');
  });

  test('the accounting holds at every moment of a run with failures, against the wire', async (t) => {
    collector.setFaults({ failRate: 0.3, latencyMs: 2 });
    const logger = captureLogger();
    const client = createInstance({ datafile: fixtureDatafile(collector.url), logger, logLevel: 'error', odp: { batchSize: 5, flushIntervalMs: 5, initialBackoffMs: 5, maxBackoffMs: 20, maxConcurrentRequests: 2 } });
    t.after(() => client.close({ timeoutMs: 0 }));
    const ledger = new Ledger(client);
    let samples = 0;
    let failure: unknown;
    const check = () => {
      try {
        checkRunningAccounting(ledger, collector.stats().distinctIds);
      } catch (error) {
        failure ??= error;
      }
      samples++;
    };
    const sampler = setInterval(check, 1);
    t.after(() => clearInterval(sampler));
    for (let i = 0; i < 300; i++) {
      ledger.send(i);
      check();
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await client.flush();
    clearInterval(sampler);
    await client.close();
    if (failure) throw failure;
    assert.ok(samples > 300);
    assert.equal(ledger.accepted.size, 300);
    assert.ok(ledger.client.stats().retries > 0, 'the failures were felt');
    checkAccounting(ledger, collector.events, logger);
  });

  test('the API key appears in no log line at any level, even in failures', async (t) => {
    const logger = captureLogger();
    collector.setFaults({ status: 401 });
    const client = createInstance({ datafile: fixtureDatafile(collector.url), logger, logLevel: 'debug', odp: { flushIntervalMs: 0 } });
    t.after(() => client.close({ timeoutMs: 0 }));
    client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: API_KEY } });
    await client.flush();
    collector.setFaults({ status: 500 });
    client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' } });
    await client.close({ timeoutMs: 200 });
    assert.ok(logger.lines.length >= 3, logger.text());
    assert.ok(!logger.text().includes(API_KEY), logger.text());
  });
});
