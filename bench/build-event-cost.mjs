// CPU per call of buildEvent (validation and the wire form) on the bench's events, against another
// version of the file, interleaved in one process so that load from elsewhere hits both alike.
//   node --import tsx bench/build-event-cost.mjs [--compare PATH] [--rounds R]
import { parseArgs } from 'node:util';
import { identifiersOf, dataOf } from './lib/workload.mjs';
import { fmt, median } from './lib/stats.mjs';

const { values } = parseArgs({ options: { compare: { type: 'string' }, rounds: { type: 'string', default: '15' } } });
const versions = [['src/event/build-event.ts', await import('../src/event/build-event.ts')]];
if (values.compare) versions.push([values.compare, await import(new URL(`../${values.compare}`, import.meta.url).href)]);

const N = 100_000;
const raws = Array.from({ length: N }, (_, i) => ({ type: 'fullstack', action: 'purchased', identifiers: identifiersOf(i), data: dataOf(i) }));
const ctx = { maxEventBytes: 32_768 };
const samples = versions.map(() => []);
let sink = 0;
for (let round = 0; round < Number(values.rounds); round++) {
  versions.forEach(([, module], v) => {
    const t = process.cpuUsage();
    for (let i = 0; i < N; i++) sink += module.buildEvent(raws[i], ctx).action.length;
    const cpu = process.cpuUsage(t);
    if (round > 2) samples[v].push(((cpu.user + cpu.system) * 1000) / N); // the first rounds warm the JIT up
  });
}
console.log('| buildEvent from | ns / call (median) |', '\n| --- | ---: |');
versions.forEach(([path], v) => console.log(`| ${path} | ${fmt(median(samples[v]), 0)} |`));
if (sink === 0) console.log('unreachable: keeps the calls from being optimised away');
