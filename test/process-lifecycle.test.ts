// How Node scripts end, in real child processes against the collector: naturally without close(),
// with process.exit(), idle, after flush(). Each child must end by itself (a guard kills it, and fails).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startCollector, type Collector } from '../collector/src/collector';
import { API_KEY, ROOT } from './support/helpers';

let collector: Collector;

describe('how a Node process ends', { timeout: 2 * 60_000 }, () => {
  before(async () => {
    collector = await startCollector({ apiKey: API_KEY });
  });
  after(() => collector.close());
  beforeEach(() => {
    collector.reset();
    collector.setFaults({});
  });

  interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
    ms: number;
  }

  function runChild(env: Record<string, string>, guardMs = 15_000): Promise<Run> {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/process-end.ts'], {
      cwd: ROOT,
      env: { ...process.env, COLLECTOR_URL: collector.url, API_KEY, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the child did not end by itself within ${guardMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
      }, guardMs);
      child.on('exit', (code) => {
        clearTimeout(guard);
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      });
    });
  }

  const ids = () => new Set(collector.events.map((event) => event.data.idempotence_id)).size;

  test('a script that ends without close() still delivers all 25 events (the partial batch goes on beforeExit), and exits', async () => {
    const run = await runChild({ MODE: 'natural', EVENTS: '25' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(collector.events.length, 25);
    assert.equal(ids(), 25);
    assert.equal(run.stderr, '', 'nothing to warn about');
    console.log(`# natural exit: 25 sent, ${collector.events.length} delivered, exited in ${run.ms} ms`);
  });

  test('natural end while the collector fails: delivery is tried until closeTimeoutMs, then one warning names the count', async () => {
    collector.setFaults({ status: 503 });
    const run = await runChild({ MODE: 'natural', EVENTS: '25', CLOSE_TIMEOUT: '1500' });
    assert.equal(run.code, 0);
    assert.ok(collector.batches.length >= 3, 'it tried to deliver before the process ended');
    assert.match(run.stderr, /25 events were not delivered: the process exited first/);
    assert.equal(run.stderr.match(/were not delivered/g)?.length, 1, run.stderr);
    console.log(`# natural exit, failing collector: ${collector.batches.length} attempts, ended in ${run.ms} ms with: ${run.stderr.trim()}`);
  });

  test('process.exit() right after sending: one warning with the count of undelivered events', async () => {
    const run = await runChild({ MODE: 'exit', EVENTS: '25' });
    assert.equal(run.code, 0);
    assert.match(run.stderr, /^warn: \[odp-sdk\] 25 events were not delivered: the process exited first/m);
    assert.equal(run.stderr.match(/were not delivered/g)?.length, 1, run.stderr);
    console.log(`# process.exit(): ${run.stderr.trim()}`);
  });

  test('an idle client (datafile polling every second, nothing queued) lets the process exit at once', async () => {
    const run = await runChild({ MODE: 'idle' });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /ready/);
    assert.equal(run.stderr, '');
    assert.ok(collector.stats().datafileRequests >= 1);
    console.log(`# idle client: exited in ${run.ms} ms (process start included)`);
  });

  test('refused events: one warning at once, the count when the process ends; the summary timer never holds the process', async () => {
    const run = await runChild({ MODE: 'refused', EVENTS: '25' });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.ms < 10_000, `ended in ${run.ms} ms: the minute-long summary timer must not hold it`);
    assert.deepEqual(run.stderr.trim().split('\n'), [
      'warn: [odp-sdk] event refused: invalidData: data.when must be a string, finite number, boolean or null, got a Date',
      'warn: [odp-sdk] 24 more events refused (invalidData ×24)',
    ]);
    assert.equal(collector.stats().requests, 0);
  });

  test('flush() resolves only after the collector answered every batch', async () => {
    collector.setFaults({ latencyMs: 300 });
    const run = await runChild({ MODE: 'flush', EVENTS: '25' });
    assert.equal(run.code, 0, run.stderr);
    const stats = JSON.parse(run.stdout.split('flushed ')[1]!) as { delivered: number; pending: number };
    assert.equal(stats.delivered, 25, 'every event was delivered when flush() resolved');
    assert.equal(stats.pending, 0);
    assert.equal(collector.events.length, 25);
    assert.ok(collector.batches.every((batch) => batch.status === 202));
  });
});
