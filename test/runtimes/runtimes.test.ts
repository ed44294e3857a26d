import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { build } from 'esbuild';
import { EdgeRuntime } from 'edge-runtime';
import { Miniflare } from 'miniflare';
import { startCollector, type Collector } from '../../collector/src/collector';
import { API_KEY, ROOT } from '../support/helpers';

// The packed tarball (`npm pack` of the built package), installed in a consumer folder, run by each
// runtime as its users run it: Node ESM and CJS, Bun, Deno, workerd (Miniflare) and Vercel's
// edge-runtime. Each sends events to the collector on 127.0.0.1 and must deliver every one exactly
// once, end by itself, and report the build (SDK_BUILD) its runtime resolved.

const BIN = join(ROOT, 'node_modules', '.bin');
const RUN_TIMEOUT_MS = 20_000;
/** The collector answers this late in the waitUntil tests, so the response is back before delivery. */
const LATENCY_MS = 300;
const N = 25;

let collector: Collector;
let consumer: string;
let env: Record<string, string>;
/** Answers every datafile request with the status in its path (`/403/{sdkKey}.json`): a wrong sdkKey as a CDN answers it. */
let refusing: Server;
let refusingUrl: string;
/** A port nothing listens on (a server was there and closed). */
let deadPort: number;

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'worker', 'index.mjs')), 'dist/ is missing: npm run build first (npm test does)');
  collector = await startCollector({ apiKey: API_KEY });
  consumer = mkdtempSync(join(tmpdir(), 'odp-sdk-runtimes-'));
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', consumer], { cwd: ROOT, encoding: 'utf8' })) as Array<{ filename: string }>;
  const sdk = join(consumer, 'node_modules', 'odp-sdk');
  mkdirSync(sdk, { recursive: true });
  execFileSync('tar', ['-xzf', join(consumer, packed[0]!.filename), '-C', sdk, '--strip-components=1']);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { 'odp-sdk': '*' } }));
  refusing = createServer((req, res) => {
    const status = Number(/^\/(\d{3})\//.exec(req.url ?? '')?.[1] ?? 404);
    res.writeHead(status, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code></Error>');
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  refusingUrl = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  env = {
    PATH: process.env.PATH ?? '',
    HOME: consumer,
    NO_COLOR: '1',
    ODP_SDK_KEY: 'RuntimeKey',
    ODP_DATAFILE_URL_TEMPLATE: `${collector.url}/datafiles/{sdkKey}.json`,
    ODP_EVENTS: String(N),
    COLLECTOR_URL: collector.url,
    // Deno's cache in the consumer folder, not the user's home.
    DENO_DIR: join(consumer, '.deno'),
    DENO_NO_UPDATE_CHECK: '1',
  };
});

after(async () => {
  await collector?.close();
  if (refusing) await new Promise((resolve) => refusing.close(resolve));
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

beforeEach(() => {
  collector.reset();
  collector.setFaults({});
});

/** Copies an example into the consumer folder, where `odp-sdk` is the packed package. */
function example(path: string): string {
  const target = join(consumer, path.replaceAll('/', '-'));
  copyFileSync(join(ROOT, 'examples', path), target);
  return target;
}

/** Runs a program to its end; kills it and its children (and fails) if it is still running after RUN_TIMEOUT_MS. */
function run(command: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout kills a launcher's child too (npm's wrappers spawn the binary).
    const child = spawn(command, args, { cwd: consumer, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not end within ${RUN_TIMEOUT_MS} ms\n${stdout}\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every one of `count` users (`${prefix}0`..) arrived exactly once, each with its own idempotence_id. */
function assertEachOnce(prefix: string, count = N): void {
  const events = collector.events.filter((event) => event.identifiers.fs_user_id?.startsWith(prefix));
  const users = events.map((event) => event.identifiers.fs_user_id).sort();
  const expected = Array.from({ length: count }, (_, i) => `${prefix}${i}`).sort();
  assert.deepEqual(users, expected, 'each user once');
  assert.equal(new Set(events.map((event) => event.data.idempotence_id)).size, count, 'distinct idempotence ids');
}

/** Bundles an entry from the consumer folder with a toolchain's export conditions. */
async function bundle(entry: string, conditions: string[], format: 'esm' | 'iife', define: Record<string, string> = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: consumer,
    bundle: true,
    write: false,
    format,
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions,
    external: ['cloudflare:*'],
    define,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/**
 * The request-scoped recipe with a long-lived client: an sdkKey (so a polling timer), events, then
 * `await flush()` and nothing else. The first request fails, so flush() spans a retry's backoff:
 * the runtime must stay up for it (holdOpen), then end by itself (unref'd timers, idle sockets).
 */
const flushProgram = (load: string) => `${load}
const client = createInstance({ sdkKey: process.env.ODP_SDK_KEY, datafileUrlTemplate: process.env.ODP_DATAFILE_URL_TEMPLATE, logLevel: 'error' });
client.onReady({ timeoutMs: 5000 }).then(async () => {
  for (let i = 0; i < ${N}; i++) client.sendOdpEvent({ action: 'flush', identifiers: { fs_user_id: 'flush-user-' + i } });
  await client.flush();
  console.log('odp-sdk build: ' + SDK_BUILD + '; ' + JSON.stringify(client.stats()));
});
`;

/** Runs the flush program: its first request is answered 503, later ones 202. */
async function runFlushProgram(command: string, args: string[]): Promise<{ build: string; delivered: number }> {
  collector.setFaults({ status: 503 });
  const recover = setInterval(() => {
    if (collector.batches.length > 0) collector.setFaults({});
  }, 5);
  const { code, stdout, stderr } = await run(command, args).finally(() => clearInterval(recover));
  assert.equal(code, 0, stderr);
  assert.ok(collector.batches.some((batch) => batch.status === 503), 'a request failed first');
  assertEachOnce('flush-user-');
  return report(stdout);
}

/** `odp-sdk build: NAME; {stats}` as the programs and examples print it. */
function report(stdout: string): { build: string; delivered: number } {
  const match = /odp-sdk build: (\w+); (\{.*\})/.exec(stdout);
  assert.ok(match, `no report in: ${stdout}`);
  return { build: match[1]!, ...(JSON.parse(match[2]!) as { delivered: number }) };
}

/**
 * A first run with a wrong sdkKey: `onReady({ timeoutMs })` must reject after its timeout, so that
 * the script's catch runs and the process then ends by itself (exit 0). The same shape as a user's
 * script: an ES module with a top-level await, or CommonJS with a promise chain.
 */
const WRONG_KEY_TIMEOUT_MS = 1_000;
const wrongKeyProgram = (load: string, esm: boolean) => `${load}
const started = Date.now();
const client = createInstance({ sdkKey: 'WrongKey', datafileUrlTemplate: process.env.ODP_DATAFILE_URL_TEMPLATE, logLevel: 'silent' });
const caught = (error) => console.log(JSON.stringify({ caught: String(error && error.message), afterMs: Date.now() - started }));
${esm
    ? `try {\n  await client.onReady({ timeoutMs: ${WRONG_KEY_TIMEOUT_MS} });\n  console.log('ready');\n} catch (error) {\n  caught(error);\n}`
    : `client.onReady({ timeoutMs: ${WRONG_KEY_TIMEOUT_MS} }).then(() => console.log('ready'), caught);`}
`;

/** Runs a wrong-key program against `template`; returns the message its catch saw. */
async function runWrongKey(command: string, args: string[], template: string): Promise<string> {
  const started = Date.now();
  const { code, stdout, stderr } = await run(command, args, { ODP_DATAFILE_URL_TEMPLATE: template });
  assert.equal(code, 0, `exit code ${code}; stdout: ${stdout}; stderr: ${stderr}`);
  const line = stdout.trim().split('\n').find((text) => text.startsWith('{'));
  assert.ok(line, `the catch did not run; stdout: ${stdout}; stderr: ${stderr}`);
  const { caught, afterMs } = JSON.parse(line) as { caught: string; afterMs: number };
  assert.ok(afterMs >= WRONG_KEY_TIMEOUT_MS - 5, `rejected after ${afterMs} ms, before the timeout`);
  assert.ok(Date.now() - started < WRONG_KEY_TIMEOUT_MS + 8_000, 'the process ended soon after the rejection');
  assert.match(caught, new RegExp(`^odp-sdk: no valid datafile within ${WRONG_KEY_TIMEOUT_MS} ms; `));
  return caught;
}

const pick = ({ build, delivered }: { build: string; delivered: number }) => ({ build, delivered });

describe('the packed package in real runtimes', { timeout: 120_000 }, () => {
  test('export conditions: workerd, worker, edge-light, deno and bun take the worker build; browser and Node theirs', async () => {
    writeFileSync(join(consumer, 'resolve.mjs'), "export { SDK_BUILD } from 'odp-sdk';");
    const cases: Array<[string[], string]> = [
      [['workerd'], 'dist/worker/'],
      [['worker'], 'dist/worker/'],
      [['edge-light'], 'dist/worker/'],
      [['deno'], 'dist/worker/'],
      [['bun'], 'dist/worker/'],
      // Conditions as wrangler and Next.js (edge) pass them: runtime keys come before `browser`.
      [['workerd', 'worker', 'browser'], 'dist/worker/'],
      [['edge-light', 'worker', 'browser'], 'dist/worker/'],
      [['browser'], 'dist/browser/'],
      [['node'], 'dist/node/'],
    ];
    for (const [conditions, dir] of cases) {
      // Only the Node build may import anything: the others must bundle with no Node built-in at hand.
      const external = dir === 'dist/node/' ? ['node:*'] : [];
      const result = await build({ entryPoints: ['resolve.mjs'], absWorkingDir: consumer, bundle: true, write: false, platform: 'neutral', conditions, external, metafile: true, logLevel: 'silent' });
      const inputs = Object.keys(result.metafile.inputs).filter((input) => input.includes('odp-sdk/'));
      assert.deepEqual(inputs, [`node_modules/odp-sdk/${dir}index.mjs`], conditions.join(','));
    }
  });

  const DENO_PERMISSIONS = ['--no-prompt', '--allow-net=127.0.0.1', '--allow-env=ODP_SDK_KEY,ODP_DATAFILE_URL_TEMPLATE,ODP_EVENTS'];
  const ESM = "import { createInstance, SDK_BUILD } from 'odp-sdk';";

  test('Node ESM: node build; flush() outlasts a retry, every event arrives once, the process ends by itself', async () => {
    writeFileSync(join(consumer, 'flush.mjs'), flushProgram(ESM));
    assert.deepEqual(pick(await runFlushProgram(process.execPath, ['flush.mjs'])), { build: 'node', delivered: N });
  });

  test('Node CJS: node build; flush() outlasts a retry, every event arrives once, the process ends by itself', async () => {
    writeFileSync(join(consumer, 'flush.cjs'), flushProgram("const { createInstance, SDK_BUILD } = require('odp-sdk');"));
    assert.deepEqual(pick(await runFlushProgram(process.execPath, ['flush.cjs'])), { build: 'node', delivered: N });
  });

  test('Bun: worker build; flush() outlasts a retry, every event arrives once, the process ends by itself', async () => {
    writeFileSync(join(consumer, 'flush.mjs'), flushProgram(ESM));
    assert.deepEqual(pick(await runFlushProgram(join(BIN, 'bun'), ['--no-install', 'flush.mjs'])), { build: 'worker', delivered: N });
  });

  test('Deno: worker build; flush() outlasts a retry, every event arrives once, the process ends by itself', async () => {
    writeFileSync(join(consumer, 'flush.mjs'), flushProgram(ESM));
    assert.deepEqual(pick(await runFlushProgram(join(BIN, 'deno'), ['run', ...DENO_PERMISSIONS, 'flush.mjs'])), { build: 'worker', delivered: N });
  });

  for (const [name, file, load, esm] of [
    ['Node ESM', 'wrong-key.mjs', ESM, true],
    ['Node CJS', 'wrong-key.cjs', "const { createInstance } = require('odp-sdk');", false],
  ] as const) {
    test(`${name}, a wrong sdkKey (403, 404, a port nobody listens on): onReady({ timeoutMs }) rejects after it, naming the URL and the cause; the catch runs; exit 0`, async () => {
      writeFileSync(join(consumer, file), wrongKeyProgram(load, esm));
      const [forbidden, notFound, unreachable] = await Promise.all([
        runWrongKey(process.execPath, [file], `${refusingUrl}/403/{sdkKey}.json`),
        runWrongKey(process.execPath, [file], `${refusingUrl}/404/{sdkKey}.json`),
        runWrongKey(process.execPath, [file], `http://127.0.0.1:${deadPort}/{sdkKey}.json`),
      ]);
      assert.match(forbidden, new RegExp(`datafile ${refusingUrl}/403/WrongKey\\.json failed: status 403`));
      assert.match(notFound, new RegExp(`datafile ${refusingUrl}/404/WrongKey\\.json failed: status 404`));
      assert.match(unreachable, new RegExp(`datafile http://127\\.0\\.0\\.1:${deadPort}/WrongKey\\.json failed: .*ECONNREFUSED`));
    });
  }

  test('Bun and Deno, a wrong sdkKey (404): onReady({ timeoutMs }) rejects after it; the catch runs; exit 0', async () => {
    writeFileSync(join(consumer, 'wrong-key.mjs'), wrongKeyProgram(ESM, true));
    const template = `${refusingUrl}/404/{sdkKey}.json`;
    const [bun, deno] = await Promise.all([
      runWrongKey(join(BIN, 'bun'), ['--no-install', 'wrong-key.mjs'], template),
      runWrongKey(join(BIN, 'deno'), ['run', ...DENO_PERMISSIONS, 'wrong-key.mjs'], template),
    ]);
    for (const caught of [bun, deno]) assert.match(caught, /WrongKey\.json failed: status 404/);
  });

  test('Bun runs examples/bun: worker build, every event once, the process ends by itself', async () => {
    const { code, stdout, stderr } = await run(join(BIN, 'bun'), ['--no-install', example('bun/send-events.mjs')]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(pick(report(stdout)), { build: 'worker', delivered: N });
    assertEachOnce('bun-user-');
  });

  test('Deno runs examples/deno: worker build, every event once, it ends by itself', async () => {
    const { code, stdout, stderr } = await run(join(BIN, 'deno'), ['run', ...DENO_PERMISSIONS, example('deno/send-events.mjs')]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(pick(report(stdout)), { build: 'worker', delivered: N });
    assertEachOnce('deno-user-');
  });

  test('workerd (Miniflare) runs examples/cloudflare-worker: the response returns first, ctx.waitUntil carries delivery', async () => {
    example('cloudflare-worker/worker.mjs');
    // Runs the example as written, with a ctx that counts what it is given to wait for.
    writeFileSync(join(consumer, 'worker-harness.mjs'), `import worker from './cloudflare-worker-worker.mjs';
let handed = 0, settled = 0;
export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === '/waited') return Response.json({ handed, settled });
    return worker.fetch(request, env, { waitUntil: (promise) => { handed++; promise.then(() => settled++); ctx.waitUntil(promise); } });
  },
};
`);
    const script = await bundle('worker-harness.mjs', ['workerd', 'worker', 'browser'], 'esm');
    collector.setFaults({ latencyMs: LATENCY_MS });
    // Miniflare's outbound network allows private addresses, loopback included (workerd alone allows public ones only).
    const mf = new Miniflare({
      modules: true,
      script,
      compatibilityDate: '2025-09-01',
      bindings: { ODP_SDK_KEY: env.ODP_SDK_KEY!, ODP_DATAFILE_URL_TEMPLATE: env.ODP_DATAFILE_URL_TEMPLATE! },
    });
    try {
      const response = await mf.dispatchFetch(`http://localhost/checkout?events=${N}`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /queued 25 events \(odp-sdk build: worker\)/);
      assert.equal(collector.events.length, 0, 'the response came back before delivery');
      const waited = async () => (await (await mf.dispatchFetch('http://localhost/waited')).json()) as { handed: number; settled: number };
      let state = await waited();
      const deadline = Date.now() + 10_000;
      while ((state.handed === 0 || state.settled < state.handed) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = await waited();
      }
      assert.ok(state.handed >= 1 && state.settled === state.handed, JSON.stringify(state));
      // The promises handed to waitUntil settle only once their batches are delivered.
      assertEachOnce('worker-user-');
    } finally {
      await mf.dispose();
    }
  });

  test("Vercel's edge-runtime runs examples/vercel: the response returns first, context.waitUntil carries delivery", async () => {
    example('vercel/api/events.js');
    // Runs the example as written, called the way Vercel calls an edge function: with a context that has waitUntil.
    writeFileSync(join(consumer, 'edge-harness.mjs'), `import handler from './vercel-api-events.js';
addEventListener('fetch', (event) => event.respondWith(handler(event.request, { waitUntil: (promise) => event.waitUntil(promise) })));
`);
    // Vercel inlines process.env at build time; its edge bundles take these conditions.
    const code = await bundle('edge-harness.mjs', ['edge-light', 'worker', 'browser'], 'iife', {
      'process.env.ODP_SDK_KEY': JSON.stringify(env.ODP_SDK_KEY),
      'process.env.ODP_DATAFILE_URL_TEMPLATE': JSON.stringify(env.ODP_DATAFILE_URL_TEMPLATE),
    });
    collector.setFaults({ latencyMs: LATENCY_MS });
    const edge = new EdgeRuntime({ initialCode: code });
    const response = await edge.dispatchFetch(`http://localhost/api/events?events=${N}`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /queued 25 events \(odp-sdk build: worker\)/);
    assert.equal(collector.events.length, 0, 'the response came back before delivery');
    await response.waitUntil();
    assertEachOnce('edge-user-');
  });

  // waitUntil's deadline, in the runtimes that impose one: ODP fails (503, Retry-After 60 s) for longer
  // than waitUntilTimeoutMs, and every promise handed to waitUntil must still settle by it, with the
  // events dropped as waitUntilTimeout and stats() balanced, while the isolate runs.
  const DEADLINE_MS = 1_500;
  /** The app both runtimes serve: a client per request, its stats kept per request for GET /state. */
  const deadlineApp = `import { createInstance } from 'odp-sdk';
const state = { handed: 0, settled: 0, settledAfterMs: [], stats: [] };
export async function handle(request, waitUntil) {
  if (new URL(request.url).pathname === '/state') return Response.json(state);
  const started = Date.now();
  const client = createInstance({
    datafile: __DATAFILE__,
    logLevel: 'silent',
    odp: { batchSize: 10 },
    waitUntilTimeoutMs: ${DEADLINE_MS},
    waitUntil: (promise) => {
      state.handed++;
      waitUntil(promise.then(() => {
        state.settled++;
        state.settledAfterMs.push(Date.now() - started);
        if (state.settled === state.handed) state.stats.push(client.stats());
      }));
    },
  });
  for (let i = 0; i < ${N}; i++) client.sendOdpEvent({ action: 'deadline', identifiers: { fs_user_id: 'deadline-user-' + i } });
  return new Response('queued');
}
`;
  type DeadlineState = { handed: number; settled: number; settledAfterMs: number[]; stats: Array<{ accepted: number; delivered: number; dropped: number; pending: number; unconfirmed: number; droppedByReason: Record<string, number> }> };

  function assertDeadlineKept(state: DeadlineState): void {
    assert.equal(state.handed, 3, 'batches of 10, 10 and 5');
    assert.equal(state.settled, state.handed, JSON.stringify(state));
    for (const ms of state.settledAfterMs) assert.ok(ms >= DEADLINE_MS - 50 && ms <= DEADLINE_MS + 1_500, `settled after ${ms} ms, deadline ${DEADLINE_MS}`);
    const stats = state.stats.at(-1)!;
    assert.equal(stats.droppedByReason.waitUntilTimeout, N);
    assert.deepEqual({ accepted: stats.accepted, delivered: stats.delivered, dropped: stats.dropped, pending: stats.pending, unconfirmed: stats.unconfirmed }, { accepted: N, delivered: 0, dropped: N, pending: 0, unconfirmed: 0 });
    assert.ok(collector.batches.length >= 1 && collector.batches.every((batch) => batch.status === 503), 'ODP was asked, and failed');
  }

  const deadlineDefine = () => ({ __DATAFILE__: JSON.stringify({ version: '4', integrations: [{ key: 'odp', host: collector.url, publicKey: API_KEY }] }) });

  test('workerd (Miniflare): ODP failing past waitUntilTimeoutMs; every waitUntil promise settles by it, the events are dropped as waitUntilTimeout, stats balance', async () => {
    writeFileSync(join(consumer, 'deadline-app.mjs'), deadlineApp);
    writeFileSync(join(consumer, 'deadline-worker.mjs'), "import { handle } from './deadline-app.mjs';\nexport default { fetch: (request, env, ctx) => handle(request, (promise) => ctx.waitUntil(promise)) };\n");
    const script = await bundle('deadline-worker.mjs', ['workerd', 'worker', 'browser'], 'esm', deadlineDefine());
    collector.setFaults({ status: 503, retryAfter: '60' });
    const mf = new Miniflare({ modules: true, script, compatibilityDate: '2025-09-01' });
    try {
      const response = await mf.dispatchFetch('http://localhost/send');
      assert.equal(await response.text(), 'queued');
      const read = async () => (await (await mf.dispatchFetch('http://localhost/state')).json()) as DeadlineState;
      let state = await read();
      const until = Date.now() + 10_000;
      while ((state.handed === 0 || state.settled < state.handed) && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = await read();
      }
      assertDeadlineKept(state);
    } finally {
      await mf.dispose();
    }
  });

  test("Vercel's edge-runtime: ODP failing past waitUntilTimeoutMs; every waitUntil promise settles by it, the events are dropped as waitUntilTimeout, stats balance", async () => {
    writeFileSync(join(consumer, 'deadline-app.mjs'), deadlineApp);
    writeFileSync(join(consumer, 'deadline-edge.mjs'), "import { handle } from './deadline-app.mjs';\naddEventListener('fetch', (event) => event.respondWith(handle(event.request, (promise) => event.waitUntil(promise))));\n");
    const code = await bundle('deadline-edge.mjs', ['edge-light', 'worker', 'browser'], 'iife', deadlineDefine());
    collector.setFaults({ status: 503, retryAfter: '60' });
    const edge = new EdgeRuntime({ initialCode: code });
    const started = Date.now();
    const response = await edge.dispatchFetch('http://localhost/send');
    assert.equal(await response.text(), 'queued');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the waitUntil promises did not settle within 10 s')), 10_000)));
    await Promise.race([response.waitUntil(), late]).finally(() => clearTimeout(timer));
    assert.ok(Date.now() - started < DEADLINE_MS + 3_000, `waitUntil settled after ${Date.now() - started} ms`);
    assertDeadlineKept((await (await edge.dispatchFetch('http://localhost/state')).json()) as DeadlineState);
  });

  test('examples/aws-lambda with a wrong sdkKey: the handler rejects within its onReady timeout (3 s), naming the cause; Node then exits', async () => {
    const handler = example('aws-lambda/handler.mjs');
    writeFileSync(join(consumer, 'lambda-wrong-key.mjs'), `import { handler } from ${JSON.stringify(handler)};
const started = Date.now();
try {
  const result = await handler({ users: ['u'] });
  console.log(JSON.stringify({ returned: result }));
} catch (error) {
  console.log(JSON.stringify({ rejected: error.message, afterMs: Date.now() - started }));
}
`);
    const { code, stdout, stderr } = await run(process.execPath, ['lambda-wrong-key.mjs'], { ODP_DATAFILE_URL_TEMPLATE: `${refusingUrl}/403/{sdkKey}.json` });
    assert.equal(code, 0, stderr);
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!) as { rejected?: string; afterMs: number };
    assert.match(outcome.rejected ?? '', /no valid datafile within 3000 ms; datafile .*\/403\/RuntimeKey\.json failed: status 403/);
    assert.ok(outcome.afterMs >= 2_990 && outcome.afterMs < 6_000, `rejected after ${outcome.afterMs} ms`);
  });

  test('examples/aws-lambda: the handler returns only after its events are delivered; Node then exits', async () => {
    const handler = example('aws-lambda/handler.mjs');
    writeFileSync(join(consumer, 'lambda-invoke.mjs'), `import { handler } from ${JSON.stringify(handler)};
const users = Array.from({ length: ${N} }, (_, i) => 'lambda-user-' + i);
for (const part of [users.slice(0, 10), users.slice(10)]) {
  const result = await handler({ users: part });
  const events = await (await fetch(process.env.COLLECTOR_URL + '/events')).json();
  const received = events.filter((e) => e.identifiers.fs_user_id.startsWith('lambda-user-')).length;
  console.log(JSON.stringify({ ...JSON.parse(result.body), received }));
}
`);
    const { code, stdout, stderr } = await run(process.execPath, ['lambda-invoke.mjs']);
    assert.equal(code, 0, stderr);
    const [first, second] = stdout.trim().split('\n').map((line) => JSON.parse(line) as { build: string; received: number });
    assert.equal(first!.build, 'node');
    assert.equal(first!.received, 10, 'delivered before the first invocation returned');
    assert.equal(second!.received, N, 'delivered before the second invocation returned');
    assertEachOnce('lambda-user-');
  });
});
