// Diagnostic (not part of `npm run bench`): preload into a contender with
//   BENCH_NODE_FLAGS="--import ./bench/lib/heap-sampler.mjs"
// to sample allocations that survived young-generation GCs (promoted) and died later in old space.
// Writes bench/results/promoted-<pid>.json: allocation sites by sampled bytes.
import { Session } from 'node:inspector';
import { writeFileSync, mkdirSync } from 'node:fs';

const session = new Session();
session.connect();
session.post('HeapProfiler.startSampling', {
  samplingInterval: 2048,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: false,
});
process.on('exit', () => {
  session.post('HeapProfiler.stopSampling', (error, { profile } = {}) => {
    if (error || !profile) return;
    const sites = new Map();
    const walk = (node, stack) => {
      const { functionName, url, lineNumber } = node.callFrame;
      const label = `${functionName || '(anonymous)'} ${url.replace(/^.*\//, '')}:${lineNumber + 1}`;
      const here = [...stack, label];
      if (node.selfSize) {
        const key = here.slice(-4).join(' < ');
        sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
      }
      for (const child of node.children) walk(child, here);
    };
    walk(profile.head, []);
    const rows = [...sites.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(`bench/results/promoted-${process.pid}.json`, JSON.stringify(rows, null, 1));
  });
});
