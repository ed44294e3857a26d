// CPU per request of Node transports against the project's collector, each in its own process.
//   node bench/transports.mjs [--requests N] [--runs R] [--compare PATH]
// --compare adds odp-sdk's Node transport from another file (e.g. a copy of the previous version), run interleaved with the rest.
// Exported for run.mjs; prints a small table when run by itself.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runJsonScript, startCollectorHost } from './lib/orchestra.mjs';
import { fmt, median } from './lib/stats.mjs';

export const TRANSPORTS = ['node-http', 'odp-sdk-http', 'node-http-no-keepalive', 'fetch', 'cross-fetch'];
const WORKER = fileURLToPath(new URL('./lib/transport-worker.mjs', import.meta.url));

/** Median CPU and wall time per request of each transport over `runs` runs of `requests` requests. */
export async function measureTransports(collector, { requests = 3000, runs = 3, compare } = {}) {
  const kinds = compare ? [...TRANSPORTS, `odp-sdk-http:${compare}`] : TRANSPORTS;
  const samples = new Map(kinds.map((kind) => [kind, []]));
  for (let r = 0; r < runs; r++) {
    for (const kind of kinds) {
      await collector.reset();
      const [base, module] = kind.split(':');
      const execArgv = base === 'odp-sdk-http' ? ['--import', 'tsx'] : [];
      const [result] = await runJsonScript(WORKER, [base, collector.url, String(requests), ...(module ? [module] : [])], execArgv);
      samples.get(kind).push(result);
    }
  }
  return kinds.map((kind) => {
    const list = samples.get(kind);
    return { kind, cpuUs: median(list.map((x) => x.cpuUsPerRequest)), wallUs: median(list.map((x) => x.wallUsPerRequest)) };
  });
}

export function transportTable(rows) {
  const base = rows.find((r) => r.kind === 'node-http')?.cpuUs ?? null;
  const lines = ['| transport | CPU µs / request | wall µs / request | CPU vs node:http keep-alive |', '| --- | ---: | ---: | ---: |'];
  for (const r of rows) lines.push(`| ${r.kind} | ${fmt(r.cpuUs, 0)} | ${fmt(r.wallUs, 0)} | ${base ? `${fmt(r.cpuUs / base, 2)}×` : '—'} |`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '3000' }, runs: { type: 'string', default: '3' }, compare: { type: 'string' } } });
  const collector = await startCollectorHost();
  try {
    const rows = await measureTransports(collector, { requests: Number(values.requests), runs: Number(values.runs), compare: values.compare });
    console.log(transportTable(rows));
  } finally {
    await collector.close();
  }
}
