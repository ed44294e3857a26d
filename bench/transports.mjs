// CPU per request of Node transports against the project's collector, each in its own process.
//   node bench/transports.mjs [--requests N] [--runs R]
// Exported for run.mjs; prints a small table when run by itself.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runJsonScript, startCollectorHost } from './lib/orchestra.mjs';
import { fmt, median } from './lib/stats.mjs';

export const TRANSPORTS = ['node-http', 'odp-sdk-http', 'node-http-no-keepalive', 'fetch', 'cross-fetch'];
const WORKER = fileURLToPath(new URL('./lib/transport-worker.mjs', import.meta.url));

/** Median CPU and wall time per request of each transport over `runs` runs of `requests` requests. */
export async function measureTransports(collector, { requests = 3000, runs = 3 } = {}) {
  const rows = [];
  const samples = new Map(TRANSPORTS.map((kind) => [kind, []]));
  for (let r = 0; r < runs; r++) {
    for (const kind of TRANSPORTS) {
      await collector.reset();
      const execArgv = kind === 'odp-sdk-http' ? ['--import', 'tsx'] : [];
      const [result] = await runJsonScript(WORKER, [kind, collector.url, String(requests)], execArgv);
      samples.get(kind).push(result);
    }
  }
  for (const kind of TRANSPORTS) {
    const list = samples.get(kind);
    rows.push({ kind, cpuUs: median(list.map((x) => x.cpuUsPerRequest)), wallUs: median(list.map((x) => x.wallUsPerRequest)) });
  }
  return rows;
}

export function transportTable(rows) {
  const base = rows.find((r) => r.kind === 'node-http')?.cpuUs ?? null;
  const lines = ['| transport | CPU µs / request | wall µs / request | CPU vs node:http keep-alive |', '| --- | ---: | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${r.kind} | ${fmt(r.cpuUs, 0)} | ${fmt(r.wallUs, 0)} | ${base ? `${fmt(r.cpuUs / base, 2)}×` : '—'} |`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '3000' }, runs: { type: 'string', default: '3' } } });
  const collector = await startCollectorHost();
  try {
    const rows = await measureTransports(collector, { requests: Number(values.requests), runs: Number(values.runs) });
    console.log(transportTable(rows));
  } finally {
    await collector.close();
  }
}
