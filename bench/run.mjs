// `npm run bench`: odp-sdk vs @optimizely/optimizely-sdk vs the floor, on the same work, each in
// its own process, against the project's collector in another. See bench/README.md.
//   node bench/run.mjs [--quick] [--runs R] [--profile]
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { ROOT, runContender, runJsonScript, startCollectorHost } from './lib/orchestra.mjs';
import { fmt, median, ratio } from './lib/stats.mjs';
import { measureTransports, transportTable } from './transports.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const plan = quick
  ? { sizes: [[10_000, 1]], throughputN: 10_000, throughputRuns: 1, memoryN: 10_000, transportRequests: 500, transportRuns: 1 }
  : { sizes: [[10_000, 5], [100_000, 5]], throughputN: 100_000, throughputRuns: 3, memoryN: 10_000, transportRequests: 3000, transportRuns: 3 };
if (values.runs) plan.sizes = plan.sizes.map(([n]) => [n, Math.max(1, Number(values.runs))]);
const KINDS = ['floor', 'odp', 'optimizely'];
/** odp-sdk's default odp.maxConcurrentRequests: the open-connections target is checked against it. */
const ODP_MAX_CONCURRENT = 2;
const NAMES = { floor: 'floor (node:http keep-alive, batches of 10)', odp: 'odp-sdk 0.1.0 (defaults)', optimizely: '@optimizely/optimizely-sdk 6.6.1' };
const resultsDir = join(ROOT, 'bench', 'results');
const profileDir = values.profile ? join(resultsDir, 'profiles') : undefined;
mkdirSync(join(resultsDir, 'sdk'), { recursive: true });

// Snapshot the built bundle: others may rebuild dist/ while the benchmark runs.
const sdkCopy = join(resultsDir, 'sdk', 'index.mjs');
copyFileSync(join(ROOT, 'dist', 'node', 'index.mjs'), sdkCopy);
process.env.ODP_BENCH_SDK = new URL(`file://${sdkCopy}`).href;

const log = (line) => process.stderr.write(`${line}\n`);
const started = Date.now();
const collector = await startCollectorHost();
const out = { main: [], throughput: [], memory: [], transports: [], bundles: [] };

try {
  // 1. The main table: runs interleaved and rotated, so drift and order hit every contender alike.
  for (const [n, runs] of plan.sizes) {
    for (let r = 0; r < runs; r++) {
      const order = KINDS.map((_, i) => KINDS[(i + r) % KINDS.length]);
      for (const kind of order) {
        const row = await runContender(collector, { kind, n, profileDir });
        out.main.push(row);
        log(`n=${n} run ${r + 1}/${runs} ${kind}: ${fmt(row.timeMs, 0)} ms, cpu ${fmt(row.cpuMs, 0)} ms, caller ${fmt(row.callerUs, 2)} µs/event, rss ${fmt(row.rssMb, 1)} MB, lost ${row.lost}`);
      }
    }
  }
  // 2. Throughput at batch sizes 10, 50, 100 (batch 10 comes from the main table's largest N).
  for (const batchSize of [50, 100]) {
    for (let r = 0; r < plan.throughputRuns; r++) {
      for (const kind of KINDS) {
        const row = await runContender(collector, { kind, n: plan.throughputN, batchSize });
        out.throughput.push(row);
        log(`throughput batch ${batchSize} run ${r + 1}: ${kind} ${fmt(row.timeMs, 0)} ms, lost ${row.lost}`);
      }
    }
  }
  // 3. Heap per queued event, collector unreachable.
  for (const kind of ['odp', 'optimizely']) {
    const samples = [];
    for (let r = 0; r < 3; r++) samples.push(...(await runJsonScript(join(ROOT, 'bench', 'lib', 'memory.mjs'), [kind, String(plan.memoryN)], ['--expose-gc'])));
    out.memory.push({ kind, bytesPerEvent: median(samples.map((s) => s.bytesPerEvent)), held: samples[0].held, rejected: samples[0].rejected });
    log(`memory ${kind}: ${fmt(out.memory.at(-1).bytesPerEvent, 0)} B/event`);
  }
  // 4. Transports.
  out.transports = await measureTransports(collector, { requests: plan.transportRequests, runs: plan.transportRuns });
  log('transports done');
} finally {
  await collector.close();
}

// 5. Browser bundles, gzip level 9.
for (const [name, file] of [
  ['odp-sdk UMD (dist/odp-sdk.umd.min.js)', join(ROOT, 'dist', 'odp-sdk.umd.min.js')],
  ['Optimizely UMD (dist/optimizely.browser.umd.min.js)', join(ROOT, 'node_modules', '@optimizely', 'optimizely-sdk', 'dist', 'optimizely.browser.umd.min.js')],
  ['Optimizely browser ESM (dist/index.browser.es.min.js)', join(ROOT, 'node_modules', '@optimizely', 'optimizely-sdk', 'dist', 'index.browser.es.min.js')],
]) {
  try {
    const bytes = readFileSync(file);
    out.bundles.push({ name, min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length });
  } catch {
    out.bundles.push({ name, min: null, gzip: null });
  }
}

const report = render(out);
console.log(report);
const target = quick ? join(resultsDir, 'RESULTS-quick.md') : join(ROOT, 'bench', 'RESULTS.md');
writeFileSync(target, report);
writeFileSync(join(resultsDir, quick ? 'raw-quick.json' : 'raw.json'), JSON.stringify(out, null, 2));
log(`wrote ${target} in ${((Date.now() - started) / 1000).toFixed(0)} s`);

function summarise(rows) {
  const pick = (key) => median(rows.map((r) => r[key]));
  return {
    runs: rows.length,
    callerUs: pick('callerUs'),
    timeMs: pick('timeMs'),
    cpuMs: pick('cpuMs'),
    rssMb: pick('rssMb'),
    requests: pick('requests'),
    maxOpen: Math.max(...rows.map((r) => r.maxOpen)),
    lost: Math.max(...rows.map((r) => r.lost)),
    duplicates: Math.max(...rows.map((r) => r.duplicates)),
  };
}

function render({ main, throughput, memory, transports, bundles }) {
  const lines = [];
  const cpu = os.cpus();
  lines.push('# Benchmark results', '');
  lines.push(`- Date: ${new Date().toISOString()}`);
  lines.push(`- Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`);
  lines.push(`- Command: \`npm run bench${quick ? ' -- --quick' : ''}\` (${quick ? 'quick smoke run: one run, small N' : 'medians of the runs shown'})`);
  lines.push(`- Load average when the run ended: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')} (the machine is shared; figures are noisy)`, '');

  const sizes = [...new Set(main.map((r) => r.n))];
  const summaries = new Map();
  lines.push('## Sending N events (batch 10)', '');
  lines.push('Caller time: inside `sendOdpEvent` only. Time and CPU: from the first send until the collector holds every event. CPU: user + system of the client process. Peak RSS: `process.resourceUsage().maxRSS`. Max open: the most connections the collector saw open at once. Lost: N minus distinct `idempotence_id`s received. Medians; max open / lost / duplicates are the worst run.', '');
  lines.push('| N | contender | runs | caller µs/event | time to delivered (ms) | CPU (ms) | peak RSS (MB) | requests | max open conns | lost | duplicates |');
  lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const n of sizes) {
    for (const kind of KINDS) {
      const s = summarise(main.filter((r) => r.n === n && r.kind === kind));
      summaries.set(`${n}/${kind}`, s);
      lines.push(`| ${n.toLocaleString('en-US')} | ${NAMES[kind]} | ${s.runs} | ${fmt(s.callerUs, 2)} | ${fmt(s.timeMs, 0)} | ${fmt(s.cpuMs, 0)} | ${fmt(s.rssMb, 1)} | ${fmt(s.requests, 0)} | ${s.maxOpen} | ${s.lost} | ${s.duplicates} |`);
    }
  }
  lines.push('', '### Ratios (of the medians)', '');
  lines.push('| N | ratio | caller time | time to delivered | CPU | peak RSS |', '| ---: | --- | ---: | ---: | ---: | ---: |');
  for (const n of sizes) {
    const odp = summaries.get(`${n}/odp`);
    for (const [other, label] of [['optimizely', 'odp-sdk / Optimizely'], ['floor', 'odp-sdk / floor']]) {
      const o = summaries.get(`${n}/${other}`);
      const cell = (key) => (o[key] === null ? '—' : `${fmt(ratio(odp[key], o[key]), 2)}×`);
      lines.push(`| ${n.toLocaleString('en-US')} | ${label} | ${cell('callerUs')} | ${cell('timeMs')} | ${cell('cpuMs')} | ${cell('rssMb')} |`);
    }
  }

  const big = sizes.at(-1);
  const odp = summaries.get(`${big}/odp`);
  const opt = summaries.get(`${big}/optimizely`);
  const floor = summaries.get(`${big}/floor`);
  const check = (ok) => (ok ? 'met' : '**missed**');
  const targets = [
    ['caller time per `sendOdpEvent`', '≤ 0.1 × Optimizely', ratio(odp.callerUs, opt.callerUs), 0.1],
    ['CPU until delivered', '≤ 1.15 × floor', ratio(odp.cpuMs, floor.cpuMs), 1.15],
    ['time until delivered', '≤ 1.15 × floor', ratio(odp.timeMs, floor.timeMs), 1.15],
    ['peak RSS', '≤ 1.10 × floor', ratio(odp.rssMb, floor.rssMb), 1.1],
  ];
  lines.push('', `### Targets (N = ${big.toLocaleString('en-US')}, batch 10)`, '');
  lines.push('| figure | target | measured | |', '| --- | --- | ---: | --- |');
  for (const [name, goal, value, limit] of targets) lines.push(`| ${name} | ${goal} | ${fmt(value, 2)}× | ${check(value !== null && value <= limit)} |`);
  lines.push(`| max open connections | ≤ maxConcurrentRequests (${ODP_MAX_CONCURRENT}) | ${odp.maxOpen} | ${check(odp.maxOpen <= ODP_MAX_CONCURRENT)} |`);
  lines.push(`| lost / duplicates | 0 / 0 | ${odp.lost} / ${odp.duplicates} | ${check(odp.lost === 0 && odp.duplicates === 0)} |`);

  lines.push('', `## Throughput by batch size (N = ${(throughput[0]?.n ?? big).toLocaleString('en-US')})`, '');
  lines.push('Events per second until the collector holds every event (medians; batch 10 is the main table).', '');
  lines.push('| contender | batch 10 | batch 50 | batch 100 |', '| --- | ---: | ---: | ---: |');
  for (const kind of KINDS) {
    const rate = (rows) => {
      const t = median(rows.map((r) => r.timeMs));
      return t ? (rows[0].n / t) * 1000 : null;
    };
    const b10 = main.filter((r) => r.n === (throughput[0]?.n ?? big) && r.kind === kind);
    const cells = [b10, ...[50, 100].map((b) => throughput.filter((r) => r.kind === kind && r.batchSize === b))].map((rows) => (rows.length ? fmt(rate(rows), 0) : '—'));
    lines.push(`| ${NAMES[kind]} | ${cells.join(' | ')} |`);
  }

  lines.push('', `## Memory per queued event (collector unreachable, ${plan.memoryN.toLocaleString('en-US')} events sent)`, '');
  lines.push('Heap (+ external) growth after GC, divided by the events sent; median of 3 processes. Optimizely has no queue bound and retries each batch at most twice, so its figure is a snapshot 300 ms in.', '');
  lines.push('| contender | bytes / queued event |', '| --- | ---: |');
  for (const m of memory) lines.push(`| ${NAMES[m.kind]} | ${fmt(m.bytesPerEvent, 0)} |`);

  lines.push('', '## Browser bundle', '');
  lines.push('| bundle | minified bytes | gzip -9 bytes |', '| --- | ---: | ---: |');
  for (const b of bundles) lines.push(`| ${b.name} | ${fmt(b.min, 0)} | ${fmt(b.gzip, 0)} |`);

  lines.push('', '## Node transports: CPU per request', '');
  lines.push('One request at a time with a 10-event body against the same collector, after a warm-up; medians.', '');
  lines.push(transportTable(transports));
  return `${lines.join('\n')}\n`;
}
