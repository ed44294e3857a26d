// One contender in its own process. Usage (forked by bench/lib/orchestra.mjs, IPC required):
//   node worker.mjs '<json config>'   { kind, url, shape: burst|growth|steady, n, batchSize, queueSize?, compression?, rate?, durationMs? }
// Protocol: sends {type:'ready'}; on {cmd:'go'} runs the shape and sends {type:'fed'};
// on {cmd:'delivered'} (the collector holds every accepted event) reads CPU and memory, sends {type:'result'}, exits.
import { setTimeout as sleep } from 'node:timers/promises';
import { datafileFor, wallNow } from './workload.mjs';
import { createContender } from './contenders.mjs';

const config = JSON.parse(process.argv[2]);
const { kind, url, shape, n } = config;
/** Events whose arguments are built at a time, outside the clock, when the shape feeds with backpressure. */
const CHUNK = 1000;
const TICK_MS = 10;
/**
 * Growth measures the cost per event as N grows, so it starts warm (code optimised, connections
 * open), as a server that has been up a while: JIT warm-up would otherwise inflate the small N
 * (measured: 5,000 events of warm-up left odp-sdk's and the floor's CPU per event at N = 10,000
 * ~1.6× their figure at 100,000; 20,000 brings them level).
 */
const WARM_UP = 20_000;
/** Growth's peak RSS is sampled over the measured span: maxRSS would include the warm-up's own peak. */
const RSS_SAMPLE_MS = 5;

const contender = await createContender(kind, { ...config, datafile: datafileFor(url), sockets: shape === 'steady' ? Infinity : 1 });
// The burst's arguments exist before the clock starts, as a caller's data would.
let burstArgs = shape === 'burst' ? Array.from({ length: n }, (_, i) => contender.argsOf(i)) : undefined;

let delivered;
/** The steady shape's close(), started when the feed ends. */
let closing;
const deliveredAt = new Promise((resolve) => {
  delivered = resolve;
});
const go = new Promise((resolve) => {
  process.on('message', (message) => {
    if (message.cmd === 'go') resolve();
    if (message.cmd === 'delivered') delivered(message);
  });
});
process.on('disconnect', () => process.exit(1)); // the parent is gone: nobody will read a result
if (shape === 'growth') {
  await growth(WARM_UP);
  await contender.settle?.();
}
process.send({ type: 'ready', warmedUp: shape === 'growth' });
await go;

const rssAtStartKb = process.resourceUsage().maxRSS;
let sampledRss = 0;
const sampleRss = () => {
  sampledRss = Math.max(sampledRss, process.memoryUsage.rss());
};
const sampler = shape === 'growth' ? setInterval(sampleRss, RSS_SAMPLE_MS) : undefined;
const t0 = wallNow();
const cpu0 = process.cpuUsage();
const fed = shape === 'steady' ? await steady() : shape === 'burst' ? await burst() : await growth(n, sampleRss);
process.send({ type: 'fed', at: wallNow(), ...fed });
const done = await deliveredAt;
const cpu = process.cpuUsage(cpu0);
const usage = process.resourceUsage();
clearInterval(sampler);
sampleRss();
const sdkStats = await Promise.resolve(closing).then(() => contender.client?.stats?.());
process.send({
  type: 'result',
  dropped: sdkStats?.dropped,
  droppedByReason: sdkStats?.droppedByReason,
  kind,
  n,
  t0,
  cpuMs: (cpu.user + cpu.system) / 1000,
  userMs: cpu.user / 1000,
  sysMs: cpu.system / 1000,
  maxRssKb: sampler ? sampledRss / 1024 : usage.maxRSS,
  rssAtStartKb,
  contextSwitches: usage.voluntaryContextSwitches + usage.involuntaryContextSwitches,
  deliveredAt: done.at,
  ...fed,
});
await contender.close();
process.exit(0);

/** Every event in one synchronous loop; caller time is that loop. The floor takes them all, then sends. */
async function burst() {
  const args = burstArgs;
  burstArgs = undefined; // the caller's objects are garbage once handed over
  if (contender.burst) {
    await contender.burst(args);
    return { callerMs: null, accepted: n, rejected: {} };
  }
  const rejected = {};
  const t = performance.now();
  const stoppedAt = contender.sendRange(args, 0, n, (code) => (rejected[code] = (rejected[code] ?? 0) + 1));
  const callerMs = performance.now() - t;
  const accepted = stoppedAt - sum(rejected);
  if (stoppedAt < n) rejected.queueFull = n - stoppedAt; // the queue is sized for the burst: none expected
  return { callerMs, accepted, rejected };
}

/**
 * N events as fast as the SDK takes them: sends synchronously until `queueFull`, which is the
 * signal to yield until the SDK has room for a chunk (it listens for `delivered`), then goes on.
 * The floor builds and sends batch by batch.
 */
async function growth(n, onBackpressure = () => {}) {
  if (contender.run) {
    await contender.run(n);
    return { callerMs: null, accepted: n, rejected: {}, backpressureWaits: 0 };
  }
  let callerMs = 0;
  let backpressureWaits = 0;
  const rejected = {};
  const args = new Array(CHUNK);
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(start + CHUNK, n);
    for (let i = start; i < end; i++) args[i - start] = contender.argsOf(i);
    for (let i = start; i < end; ) {
      const t = performance.now();
      i = start + contender.sendRange(args, i - start, end - start, (code) => (rejected[code] = (rejected[code] ?? 0) + 1));
      callerMs += performance.now() - t;
      if (i < end) {
        backpressureWaits++;
        onBackpressure(); // the queue is full: a moment of peak memory the interval may not see
        await contender.room(CHUNK);
      }
    }
  }
  return { callerMs, accepted: n - sum(rejected), rejected, backpressureWaits };
}

/**
 * `rate` events per second for `durationMs`, sent every 10 ms as they fall due. A `queueFull`
 * answer is counted and the event dropped, as a server that cannot wait would.
 */
async function steady() {
  const total = Math.round((config.rate * config.durationMs) / 1000);
  const rejected = {};
  const onReject = (code) => (rejected[code] = (rejected[code] ?? 0) + 1);
  const start = performance.now();
  let sent = 0;
  let lastSendAt = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * config.rate) / 1000));
    for (; sent < due; sent++) {
      if (contender.send) contender.send(sent);
      else if (contender.sendRange([contender.argsOf(sent)], 0, 1, onReject) === 0) onReject('queueFull');
    }
    lastSendAt = wallNow();
    if (sent < total) await sleep(TICK_MS);
  }
  // As a server shutting down would: close with a long deadline (odp-sdk: 60 s), started now, awaited after.
  closing = contender.drain ? contender.drain() : contender.finish?.();
  return { callerMs: null, accepted: total - sum(rejected), rejected, offered: total, windowMs: performance.now() - start, lastSendAt };
}

function sum(counts) {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
