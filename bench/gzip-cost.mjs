// CPU and latency of gzip for one batch body in Node: zlib.gzipSync (on the calling thread) against
// zlib.gzip (libuv's thread pool), at the sizes the SDK sends (batches of 10 and 100 events).
//   node bench/gzip-cost.mjs [--bodies N]
// CPU is process.cpuUsage() (all threads, so the pool's work counts); latency is wall time per body
// with one body in flight at a time, as a transport with a free slot would see it.
import { promisify, parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { wireEventOf } from './lib/workload.mjs';
import { fmt, median } from './lib/stats.mjs';

const { values } = parseArgs({ options: { bodies: { type: 'string', default: '2000' }, runs: { type: 'string', default: '5' } } });
const count = Number(values.bodies);
const gzipAsync = promisify(zlib.gzip);

function bodiesOf(batch) {
  return Array.from({ length: 100 }, (_, b) => JSON.stringify(Array.from({ length: batch }, (_, i) => wireEventOf(b * batch + i))));
}

async function measure(kind, bodies, level) {
  const options = { level };
  const one = kind === 'sync' ? async (body) => zlib.gzipSync(body, options) : (body) => gzipAsync(body, options);
  for (let i = 0; i < 200; i++) await one(bodies[i % bodies.length]); // warm up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let out = 0;
  for (let i = 0; i < count; i++) out += (await one(bodies[i % bodies.length])).length;
  const wallUs = ((performance.now() - t0) * 1000) / count;
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / count, wallUs, outBytes: out / count };
}

const rows = [];
for (const batch of [10, 100]) {
  const bodies = bodiesOf(batch);
  const inBytes = bodies.reduce((a, b) => a + Buffer.byteLength(b), 0) / bodies.length;
  for (const level of [1, 6]) {
    for (const kind of ['sync', 'async']) {
      const samples = [];
      for (let r = 0; r < Number(values.runs); r++) samples.push(await measure(kind, bodies, level));
      rows.push({ batch, level, kind, inBytes, outBytes: samples[0].outBytes, cpuUs: median(samples.map((s) => s.cpuUs)), wallUs: median(samples.map((s) => s.wallUs)) });
    }
  }
}
console.log('| batch | level | call | body bytes | gzip bytes | CPU µs / body | wall µs / body |');
console.log('| ---: | ---: | --- | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(`| ${r.batch} | ${r.level} | ${r.kind === 'sync' ? 'gzipSync' : 'gzip (pool)'} | ${fmt(r.inBytes, 0)} | ${fmt(r.outBytes, 0)} | ${fmt(r.cpuUs, 1)} | ${fmt(r.wallUs, 1)} |`);
