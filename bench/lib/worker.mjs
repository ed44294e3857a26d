// One contender in its own process. Usage (forked by bench/run.mjs, IPC required):
//   node worker.mjs <odp|optimizely|floor> <collectorUrl> <n> [batchSize] [chunk]
// Protocol: sends {type:'ready'}; on {cmd:'go'} runs the workload and sends {type:'fed'};
// on {cmd:'delivered'} (the collector holds every event) reads CPU and memory, sends {type:'result'}, exits.
import { setImmediate as tick } from 'node:timers/promises';
import { datafileFor, wallNow } from './workload.mjs';
import { createContender } from './contenders.mjs';

const [kind, url, nText, batchText = '10', chunkText = '100'] = process.argv.slice(2);
const n = Number(nText);
const batchSize = Number(batchText);
const chunk = Number(chunkText);

const contender = await createContender(kind, { url, batchSize, datafile: datafileFor(url) });

let delivered;
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
process.send({ type: 'ready' });
await go;

const rssAtStartKb = process.resourceUsage().maxRSS;
const t0 = wallNow();
const cpu0 = process.cpuUsage();
const fed = contender.run ? await runFloor() : await feed(contender);
process.send({ type: 'fed', at: wallNow(), ...fed });
const done = await deliveredAt;
const cpu = process.cpuUsage(cpu0);
const usage = process.resourceUsage();
const result = {
  type: 'result',
  kind,
  n,
  t0,
  cpuMs: (cpu.user + cpu.system) / 1000,
  userMs: cpu.user / 1000,
  sysMs: cpu.system / 1000,
  maxRssKb: usage.maxRSS,
  rssAtStartKb,
  contextSwitches: usage.voluntaryContextSwitches + usage.involuntaryContextSwitches,
  deliveredAt: done.at,
  ...fed,
};
process.send(result);
await contender.close();
process.exit(0);

/**
 * Feeds the SDK in chunks: build a chunk's arguments (outside the clock), time only the
 * sendOdpEvent calls, then yield to the event loop so the SDK can send. A `queueFull` answer is
 * backpressure: wait until the SDK has room for a chunk, then send the same event again.
 */
async function feed(sdk) {
  let callerMs = 0;
  let accepted = 0;
  let backpressureWaits = 0;
  const rejected = {};
  const args = new Array(chunk);
  for (let start = 0; start < n; ) {
    const end = Math.min(start + chunk, n);
    for (let i = start; i < end; i++) args[i - start] = sdk.argsOf(i);
    let i = start;
    while (i < end) {
      const from = i;
      const t = performance.now();
      const blockedAt = sdk.sendRange(args, from - start, end - start, (code) => {
        rejected[code] = (rejected[code] ?? 0) + 1;
      });
      callerMs += performance.now() - t;
      i = start + blockedAt;
      accepted += i - from;
      if (i < end) {
        backpressureWaits++;
        await sdk.room(chunk);
      }
    }
    start = end;
    await tick();
  }
  return { callerMs, accepted, rejected, backpressureWaits };
}

async function runFloor() {
  await contender.run(n);
  return { callerMs: null, accepted: n, rejected: {}, backpressureWaits: 0 };
}
