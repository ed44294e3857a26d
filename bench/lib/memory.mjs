// Heap bytes per queued event while the collector is unreachable. Run with --expose-gc:
//   node --expose-gc memory.mjs <odp|optimizely> <n>
// Prints one JSON line. The ODP host is a port that refuses connections, so nothing is delivered.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { datafileFor } from './workload.mjs';
import { createContender } from './contenders.mjs';

const [kind, nText = '10000'] = process.argv.slice(2);
const n = Number(nText);

// A port that was just free: connecting to it is refused at once.
const probe = net.createServer();
await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
const port = probe.address().port;
await new Promise((resolve) => probe.close(resolve));
const url = `http://127.0.0.1:${port}`;

const sdk = await createContender(kind, { url, batchSize: 10, datafile: datafileFor(url) });
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await sleep(20);
  }
};
await settle();
const before = process.memoryUsage();
const rejected = {};
for (let i = 0; i < n; i++) {
  // One call at a time: the arguments are garbage as soon as the SDK has taken what it keeps.
  const args = [sdk.argsOf(i)];
  if (sdk.sendRange(args, 0, 1, (code) => (rejected[code] = (rejected[code] ?? 0) + 1)) === 0) rejected.queueFull = (rejected.queueFull ?? 0) + 1;
}
await sleep(300); // let the first connection attempts fail, so batches sit in their retry state
await settle();
const after = process.memoryUsage();
const held = kind === 'odp' ? sdk.client.stats() : undefined;
const bytes = after.heapUsed + after.external + after.arrayBuffers - (before.heapUsed + before.external + before.arrayBuffers);
process.stdout.write(
  `${JSON.stringify({ kind, n, bytesPerEvent: bytes / n, heapDelta: after.heapUsed - before.heapUsed, rejected, held: held ? held.queued + held.inFlight : null })}\n`,
);
await Promise.race([sdk.close(), sleep(2000)]);
process.exit(0);
