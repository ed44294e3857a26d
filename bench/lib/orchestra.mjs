// Child processes for the benchmark: the collector host and one process per contender run.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');

/** Waits for the next IPC message of `type` (or answering `id`) from a child. */
function next(child, match) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (!match(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`child exited (${code}) before answering`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Starts the collector host; returns its url and a small command API. */
export async function startCollectorHost() {
  const child = fork(join(here, 'collector-host.mjs'), [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { url } = await next(child, (m) => m.type === 'listening');
  let ids = 0;
  const ask = (cmd, extra = {}) => {
    const id = ++ids;
    const answer = next(child, (m) => m.id === id);
    child.send({ cmd, id, ...extra });
    return answer;
  };
  return {
    url,
    reset: ({ waitIdle = true } = {}) => ask('reset', { waitIdle }),
    stats: async () => (await ask('stats')).stats,
    setFaults: (faults) => ask('faults', { faults }),
    wire: async () => (await ask('wire')).wire,
    /** Resolves when the collector has promised to report 'done'; returns that later report. */
    async expect(n, timeoutMs) {
      const done = next(child, (m) => m.type === 'done');
      await ask('expect', { n, timeoutMs });
      return { done };
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ cmd: 'close' });
      await exited;
    },
  };
}

/**
 * One run of one contender: a fresh process, the collector reset, the clock started in the
 * contender at 'go' and stopped when the collector holds every accepted event.
 * `run`: { kind, shape: burst|growth|steady, n, batchSize, queueSize?, compression?, rate?, durationMs? }.
 * Burst and growth expect all n events (the collector reports the moment it holds them); steady
 * counts what arrived within its window, then waits for the events the SDK accepted, and how long
 * after the last send the last of them arrived.
 */
export async function runContender(collector, { profileDir, timeoutMs = 180_000, ...run }) {
  await collector.reset();
  const config = { batchSize: 10, ...run, url: collector.url };
  const name = `${config.kind}-${config.shape}-${config.n ?? config.rate}-b${config.batchSize}${config.compression ? `-${config.compression}` : ''}-${Date.now()}`;
  const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-interval=200', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  // BENCH_NODE_FLAGS (e.g. "--trace-gc") goes to the contender processes only.
  const extra = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean) : [];
  const child = fork(join(here, 'worker.mjs'), [JSON.stringify(config)], {
    cwd: ROOT,
    execArgv: [...execArgv, ...extra],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = await next(child, (m) => m.type === 'ready');
  // The warm-up's events and requests are not the run's; its open keep-alive sockets stay open.
  if (ready.warmedUp) await collector.reset({ waitIdle: false });
  const steady = config.shape === 'steady';
  const early = steady ? undefined : await collector.expect(config.n, timeoutMs);
  const fed = next(child, (m) => m.type === 'fed');
  const result = next(child, (m) => m.type === 'result');
  child.send({ cmd: 'go' });
  const fedMessage = await fed;
  let done;
  if (steady) {
    // The SDK's close() (60 s deadline) started with the last send: a little longer than that.
    done = (await collector.expect(fedMessage.accepted, Math.min(timeoutMs, 90_000))).done;
  } else done = early.done;
  const at = await done;
  child.send({ cmd: 'delivered', at: at.at });
  const r = await result;
  await exited;
  const s = await collector.stats();
  const wire = await collector.wire();
  const expected = steady ? fedMessage.accepted : config.n;
  return {
    ...run,
    batchSize: config.batchSize,
    callerUs: r.callerMs === null ? null : (r.callerMs * 1000) / config.n,
    feedMs: fedMessage.at - r.t0,
    timeMs: at.at - r.t0,
    cpuMs: r.cpuMs,
    userMs: r.userMs,
    sysMs: r.sysMs,
    contextSwitches: r.contextSwitches,
    rssMb: r.maxRssKb / 1024,
    rssAtStartMb: r.rssAtStartKb / 1024,
    requests: s.requests,
    maxOpen: s.maxOpenConnections,
    delivered: s.distinctIds,
    lost: expected - Math.min(expected, s.distinctIds),
    duplicates: s.duplicates,
    timedOut: at.timedOut,
    accepted: r.accepted,
    offered: r.offered,
    dropped: r.dropped,
    lastSendToArrivalMs: steady ? (at.timedOut ? at.lastEventAt : at.at) - fedMessage.lastSendAt : undefined,
    windowMs: r.windowMs,
    backpressureWaits: r.backpressureWaits,
    rejected: r.rejected,
    wireBytes: wire.bytes,
    gzipRequests: wire.gzip,
  };
}

/** Runs a script in a plain child process and parses the JSON lines it prints. */
export function runJsonScript(script, args, execArgv = []) {
  return new Promise((resolve, reject) => {
    const child = fork(script, args, { cwd: ROOT, execArgv, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      resolve(out.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line)));
    });
  });
}
