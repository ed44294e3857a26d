// `npm run bench`: odp-sdk vs @optimizely/optimizely-sdk vs the floor, on the shapes users have,
// each contender in its own process, against the project's collector in another. See bench/README.md.
//   node bench/run.mjs [--quick] [--runs R] [--profile] [--only burst,steady,growth,gzip,extras]
//   node bench/run.mjs --render bench/results/raw-....json   prints the report of an earlier run again
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
    only: { type: 'string' },
    render: { type: 'string' },
  },
});
const quick = values.quick;
const plan = quick
  ? { burstN: 10_000, burstRuns: 1, steadyMs: 5_000, growth: [[10_000, 1], [100_000, 1]], gzipN: 10_000, gzipRuns: 1, memoryN: 10_000, transportRequests: 500, transportRuns: 1 }
  : { burstN: 100_000, burstRuns: 3, steadyMs: 30_000, growth: [[10_000, 3], [100_000, 3], [1_000_000, 1]], gzipN: 30_000, gzipRuns: 3, memoryN: 10_000, transportRequests: 3000, transportRuns: 3 };
if (values.runs) plan.burstRuns = plan.gzipRuns = Math.max(1, Number(values.runs));
/** The steady shape: a busy server's rate against an ODP far away (it answers this late), events/s and ms. */
const STEADY_POINTS = [
  { rate: 1_000, latencyMs: 50 },
  { rate: 1_000, latencyMs: 200 },
  { rate: 5_000, latencyMs: 100 },
  { rate: 10_000, latencyMs: 100 },
];
/** The collector keeps the headers (so the Content-Length) of this many batches per run. */
const COLLECTOR_KEPT_BATCHES = 50_000;
const sections = new Set((values.only ?? 'burst,steady,growth,gzip,extras').split(','));
const KINDS = ['floor', 'odp', 'optimizely'];
/** The most connections odp-sdk may open with its defaults: 2 request slots, grown to 4 by a backlog. */
const ODP_MAX_CONNECTIONS = 4;
const NAMES = { floor: 'floor (node:http keep-alive)', odp: 'odp-sdk 0.1.0', optimizely: 'Optimizely 6.6.1' };
const resultsDir = join(ROOT, 'bench', 'results');
const profileDir = values.profile ? join(resultsDir, 'profiles') : undefined;
mkdirSync(join(resultsDir, 'sdk'), { recursive: true });

// Snapshot the built bundle: others may rebuild dist/ while the benchmark runs.
const sdkCopy = join(resultsDir, 'sdk', 'index.mjs');
copyFileSync(join(ROOT, 'dist', 'node', 'index.mjs'), sdkCopy);
process.env.ODP_BENCH_SDK = new URL(`file://${sdkCopy}`).href;

const log = (line) => process.stderr.write(`${line}\n`);
if (values.render) {
  const saved = JSON.parse(readFileSync(values.render, 'utf8'));
  Object.assign(plan, saved.plan);
  console.log(render(saved));
  process.exit(0);
}
const started = Date.now();
const out = { plan, burst: [], steadyRuns: [], growth: [], gzip: [], memory: [], transports: [], bundles: [] };
/**
 * One contender run against a collector of its own: after Optimizely's burst (thousands of
 * connections) the kernel goes on retransmitting to the collector's port for seconds after its
 * process is gone, and a shared collector counted those events and connections as the next run's.
 */
const run = async ({ faults, ...spec }) => {
  const collector = await startCollectorHost();
  let row;
  try {
    if (faults) await collector.setFaults(faults);
    row = await runContender(collector, { ...spec, profileDir });
  } finally {
    await collector.close();
  }
  const what = `${spec.shape} ${spec.kind} ${spec.rate ? `${spec.rate}/s +${spec.latencyMs} ms` : `n=${spec.n ?? '-'}`} b${spec.batchSize ?? 10}${spec.compression ? ` ${spec.compression}` : ''}`;
  log(`${what}: ${fmt(row.timeMs, 0)} ms, cpu ${fmt(row.cpuMs, 0)} ms, caller ${fmt(row.callerUs, 2)} µs/event, rss ${fmt(row.rssMb, 1)} MB, conns ${row.maxOpen}, delivered ${row.delivered}, lost ${row.lost}`);
  return row;
};

// (a) A synchronous burst at queue capacity; runs interleaved and rotated, so drift hits every contender alike.
if (sections.has('burst')) {
  for (let r = 0; r < plan.burstRuns; r++) {
    for (const kind of KINDS.map((_, i) => KINDS[(i + r) % KINDS.length])) {
      out.burst.push(await run({ kind, shape: 'burst', n: plan.burstN, queueSize: plan.burstN }));
    }
  }
}
// (b) Steady rates against a collector far away, odp-sdk and Optimizely each in its own process.
if (sections.has('steady')) {
  for (const { rate, latencyMs } of STEADY_POINTS) {
    for (const kind of ['odp', 'optimizely']) out.steadyRuns.push(await run({ kind, shape: 'steady', rate, latencyMs, durationMs: plan.steadyMs, faults: { latencyMs } }));
  }
}
// (c) Growth: the default queue (10,000) fed with backpressure; the floor sends batch by batch.
if (sections.has('growth')) {
  for (const [n, runs] of plan.growth) {
    for (let r = 0; r < runs; r++) {
      for (const kind of r % 2 ? ['odp', 'floor'] : ['floor', 'odp']) out.growth.push(await run({ kind, shape: 'growth', n, timeoutMs: 600_000 }));
    }
  }
}
// Bytes on the wire: odp-sdk's burst with and without gzip, batches of 10 and 100, interleaved.
if (sections.has('gzip')) {
  for (let r = 0; r < plan.gzipRuns; r++) {
    for (const batchSize of [10, 100]) {
      for (const compression of ['none', 'gzip']) out.gzip.push(await run({ kind: 'odp', shape: 'burst', n: plan.gzipN, queueSize: plan.gzipN, batchSize, compression }));
    }
  }
}
if (sections.has('extras')) {
  // Heap per queued event, collector unreachable.
  for (const kind of ['odp', 'optimizely']) {
    const samples = [];
    for (let r = 0; r < 3; r++) samples.push(...(await runJsonScript(join(ROOT, 'bench', 'lib', 'memory.mjs'), [kind, String(plan.memoryN)], ['--expose-gc'])));
    out.memory.push({ kind, bytesPerEvent: median(samples.map((s) => s.bytesPerEvent)) });
    log(`memory ${kind}: ${fmt(out.memory.at(-1).bytesPerEvent, 0)} B/event`);
  }
  const collector = await startCollectorHost();
  try {
    out.transports = await measureTransports(collector, { requests: plan.transportRequests, runs: plan.transportRuns });
  } finally {
    await collector.close();
  }
  log('transports done');
}

if (sections.has('extras')) {
  for (const [name, file] of [
    ['odp-sdk UMD (dist/odp-sdk.umd.min.js)', join(ROOT, 'dist', 'odp-sdk.umd.min.js')],
    ['Optimizely UMD (dist/optimizely.browser.umd.min.js)', join(ROOT, 'node_modules', '@optimizely', 'optimizely-sdk', 'dist', 'optimizely.browser.umd.min.js')],
  ]) {
    try {
      const bytes = readFileSync(file);
      out.bundles.push({ name, min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length });
    } catch {
      out.bundles.push({ name, min: null, gzip: null });
    }
  }
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(join(resultsDir, `raw${quick ? '-quick' : values.only ? '-partial' : ''}-${stamp}.json`), JSON.stringify(out, null, 2));
const report = render(out);
console.log(report);
const base = quick ? 'RESULTS-quick' : values.only ? 'RESULTS-partial' : 'RESULTS';
for (const file of [`${base}.md`, `${base}-${stamp}.md`]) writeFileSync(join(resultsDir, file), report);
log(`wrote bench/results/${base}.md in ${((Date.now() - started) / 1000).toFixed(0)} s`);

/** Medians of a set of runs (worst run for connections, losses and duplicates). */
function summarise(rows) {
  if (!rows.length) return undefined;
  const pick = (key) => median(rows.map((r) => r[key]));
  const perEvent = (key) => median(rows.map((r) => (r[key] * 1000) / (r.delivered || r.n)));
  return {
    runs: rows.length,
    n: rows[0].n,
    callerUs: pick('callerUs'),
    timeMs: pick('timeMs'),
    cpuMs: pick('cpuMs'),
    cpuUsPerEvent: perEvent('cpuMs'),
    rssMb: pick('rssMb'),
    requests: pick('requests'),
    wireBytesPerEvent: median(rows.map((r) => (r.requests <= COLLECTOR_KEPT_BATCHES ? r.wireBytes / (r.delivered || r.n) : null))),
    maxOpen: Math.max(...rows.map((r) => r.maxOpen)),
    lost: Math.max(...rows.map((r) => r.lost)),
    duplicates: Math.max(...rows.map((r) => r.duplicates)),
  };
}

function render({ burst, steadyRuns = [], growth, gzip, memory, transports, bundles }) {
  const lines = [];
  const cpu = os.cpus();
  lines.push('# Benchmark results', '');
  lines.push(`- Date: ${new Date().toISOString()}`);
  lines.push(`- Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`);
  lines.push(`- Command: \`npm run bench${quick ? ' -- --quick' : ''}\`${values.only ? ` --only ${values.only}` : ''} (${quick ? 'quick smoke run: one run each, small N, short window' : 'medians of the runs shown'})`);
  lines.push(`- Load average when the run ended: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')} (the machine is shared; figures are noisy)`, '');

  const check = (ok) => (ok === null ? '' : ok ? 'met' : '**missed**');
  const x = (v) => (v === null || v === undefined ? '—' : `${fmt(v, 2)}×`);
  const table = ['| shape | figure | odp-sdk | Optimizely | floor | odp / Optimizely | odp / floor | goal | |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |'];
  const row = (shape, figure, o, p, f, digits, goal, ok, ratios = true) =>
    table.push(`| ${shape} | ${figure} | ${fmt(o, digits)} | ${fmt(p, digits)} | ${fmt(f, digits)} | ${ratios ? x(ratio(o, p)) : '—'} | ${ratios ? x(ratio(o, f)) : '—'} | ${goal} | ${check(ok)} |`);
  const count = (shape, figure, o, p, f, goal, ok) => row(shape, figure, o, p, f, 0, goal, ok, false);

  const b = Object.fromEntries(KINDS.map((k) => [k, summarise(burst.filter((r) => r.kind === k))]));
  if (b.odp) {
    const shape = `burst ${b.odp.n.toLocaleString('en-US')} (queueSize = N, batch 10, ${b.odp.runs} runs)`;
    const { odp, optimizely: opt, floor } = b;
    row(shape, 'caller time per event (µs)', odp.callerUs, opt?.callerUs, null, 2, '≤ 0.1 × Optimizely', ratio(odp.callerUs, opt?.callerUs) <= 0.1);
    row(shape, 'CPU until delivered (ms)', odp.cpuMs, opt?.cpuMs, floor?.cpuMs, 0, '≤ 0.8 × floor', ratio(odp.cpuMs, floor?.cpuMs) <= 0.8);
    row(shape, 'time until delivered (ms)', odp.timeMs, opt?.timeMs, floor?.timeMs, 0, '≤ floor', ratio(odp.timeMs, floor?.timeMs) <= 1);
    row(shape, 'peak RSS (MB)', odp.rssMb, opt?.rssMb, floor?.rssMb, 1, '≤ 0.85 × floor', ratio(odp.rssMb, floor?.rssMb) <= 0.85);
    count(shape, 'requests', odp.requests, opt?.requests, floor?.requests, '', null);
    count(shape, 'max open connections', odp.maxOpen, opt?.maxOpen, floor?.maxOpen, `≤ ${ODP_MAX_CONNECTIONS}`, odp.maxOpen <= ODP_MAX_CONNECTIONS);
    count(shape, 'lost + duplicates (worst run)', odp.lost + odp.duplicates, opt ? opt.lost + opt.duplicates : null, floor ? floor.lost + floor.duplicates : null, '0', odp.lost + odp.duplicates === 0);
  }
  const sizes = [...new Set(growth.map((r) => r.n))];
  const g = new Map(sizes.flatMap((n) => ['odp', 'floor'].map((k) => [`${n}/${k}`, summarise(growth.filter((r) => r.n === n && r.kind === k))])));
  if (sizes.length) {
    const shape = 'growth (queueSize 10,000, backpressure, warm)';
    for (const n of sizes) row(shape, `CPU per event at ${n.toLocaleString('en-US')} (µs)`, g.get(`${n}/odp`)?.cpuUsPerEvent, null, g.get(`${n}/floor`)?.cpuUsPerEvent, 2, '', null);
    for (const n of sizes) row(shape, `peak RSS at ${n.toLocaleString('en-US')} (MB)`, g.get(`${n}/odp`)?.rssMb, null, g.get(`${n}/floor`)?.rssMb, 1, '', null);
    const last = sizes.at(-1);
    const k = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1000}k`);
    // The issue asks for largest / smallest; largest / second-largest shows whether growth has stopped.
    for (const first of sizes.length > 2 ? [sizes[0], sizes.at(-2)] : [sizes[0]]) {
      const grow = (kind, key) => ratio(g.get(`${last}/${kind}`)?.[key], g.get(`${first}/${kind}`)?.[key]);
      for (const [key, name] of [['cpuUsPerEvent', 'CPU per event'], ['rssMb', 'peak RSS']]) {
        table.push(`| ${shape} | ${name}, ${k(last)} / ${k(first)} | ${x(grow('odp', key))} | — | ${x(grow('floor', key))} | — | — | flat: ≤ 1.10× | ${check(grow('odp', key) <= 1.1)} |`);
      }
    }
    const worst = Math.max(...growth.filter((r) => r.kind === 'odp').map((r) => r.lost + r.duplicates));
    table.push(`| ${shape} | lost + duplicates (worst run) | ${worst} | — | — | — | — | 0 | ${check(worst === 0)} |`);
  }
  lines.push('## odp-sdk against Optimizely and the floor, by shape', '');
  lines.push('Medians of interleaved runs. Caller time: inside `sendOdpEvent` only. CPU: user + system of the contender process, from its first send until the collector holds every event. Time: the same span, wall clock. Peak RSS: `maxRSS` of the contender process. Connections: the most the collector saw open at once. Burst goals: issue 19; growth goals: issue 13. Growth runs odp-sdk and the floor only: Optimizely has no queue bound to push back with.', '');
  lines.push(...table, '');

  if (steadyRuns.length) {
    lines.push(`## Steady rates against a distant ODP (${plan.steadyMs / 1000} s each, then close(); each contender in its own process)`, '');
    lines.push('Every 10 ms the events that fell due are sent; the collector answers each request `latency` ms late. odp-sdk with its defaults, closed with `close({ timeoutMs: 60000 })` after the last send; Optimizely with its defaults, then `close()`. Delivered: distinct ids at the collector. Last arrival: from the last send to the last event at the collector. CPU: the contender process, from its first send until every event it accepted arrived (or the run gave up). Goals (issue 19): everything delivered once, the last event within 1 s + one round trip, at most 4 connections, CPU no more than Optimizely\'s in the same run.', '');
    lines.push('| rate, latency | contender | delivered | refused | dropped | duplicates | max connections | requests | CPU (ms) | last send → last arrival (ms) | peak RSS (MB) | goals |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const { rate, latencyMs } of STEADY_POINTS) {
      const at = steadyRuns.filter((r) => r.rate === rate && r.latencyMs === latencyMs);
      const opt = at.find((r) => r.kind === 'optimizely');
      for (const r of at) {
        const refused = r.rejected?.queueFull ?? 0;
        const dropped = r.kind === 'odp' ? r.dropped ?? 0 : null;
        let goals = '';
        if (r.kind === 'odp') {
          const ok = r.lost === 0 && refused === 0 && !dropped && r.duplicates === 0 && r.lastSendToArrivalMs <= 1000 + latencyMs && r.maxOpen <= ODP_MAX_CONNECTIONS && (!opt || r.cpuMs <= opt.cpuMs);
          goals = check(ok);
        }
        lines.push(`| ${fmt(rate, 0)}/s, ${latencyMs} ms | ${NAMES[r.kind]} | ${fmt(r.delivered, 0)} / ${fmt(r.offered, 0)} | ${fmt(refused, 0)} | ${fmt(dropped, 0)} | ${fmt(r.duplicates, 0)} | ${r.maxOpen} | ${fmt(r.requests, 0)} | ${fmt(r.cpuMs, 0)} | ${fmt(r.lastSendToArrivalMs, 0)} | ${fmt(r.rssMb, 1)} | ${goals} |`);
      }
    }
    lines.push('');
  }

  if (gzip.length) {
    lines.push(`## Bytes on the wire: \`odp.compression\` (odp-sdk, burst of ${plan.gzipN.toLocaleString('en-US')}, ${plan.gzipRuns} runs, medians)`, '');
    lines.push('Bytes: request bodies as sent (each request\'s Content-Length at the collector), per event. CPU: the contender\'s, until delivered, per event.', '');
    lines.push('| batch | compression | bytes / event | CPU µs / event | time until delivered (ms) | peak RSS (MB) | bytes vs none | CPU vs none |', '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const batchSize of [10, 100]) {
      const none = summarise(gzip.filter((r) => r.batchSize === batchSize && r.compression === 'none'));
      for (const compression of ['none', 'gzip']) {
        const m = summarise(gzip.filter((r) => r.batchSize === batchSize && r.compression === compression));
        if (!m) continue;
        lines.push(`| ${batchSize} | ${compression} | ${fmt(m.wireBytesPerEvent, 1)} | ${fmt(m.cpuUsPerEvent, 1)} | ${fmt(m.timeMs, 0)} | ${fmt(m.rssMb, 1)} | ${x(ratio(m.wireBytesPerEvent, none?.wireBytesPerEvent))} | ${x(ratio(m.cpuUsPerEvent, none?.cpuUsPerEvent))} |`);
      }
    }
    lines.push('');
  }

  lines.push('## Every figure, by shape and contender (medians)', '');
  lines.push('| shape | contender | runs | caller µs/event | time (ms) | CPU (ms) | CPU µs/event | peak RSS (MB) | requests | max open | bytes/event | lost | duplicates |', '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const detail = (label, kind, m) => m && lines.push(`| ${label} | ${NAMES[kind]} | ${m.runs} | ${fmt(m.callerUs, 2)} | ${fmt(m.timeMs, 0)} | ${fmt(m.cpuMs, 0)} | ${fmt(m.cpuUsPerEvent, 2)} | ${fmt(m.rssMb, 1)} | ${fmt(m.requests, 0)} | ${m.maxOpen} | ${fmt(m.wireBytesPerEvent, 0)} | ${m.lost} | ${m.duplicates} |`);
  for (const kind of KINDS) detail(`burst ${plan.burstN.toLocaleString('en-US')}`, kind, b[kind]);
  for (const n of sizes) for (const kind of ['odp', 'floor']) detail(`growth ${n.toLocaleString('en-US')}`, kind, g.get(`${n}/${kind}`));
  lines.push('');

  if (memory.length) {
    lines.push(`## Memory per queued event (collector unreachable, ${plan.memoryN.toLocaleString('en-US')} events sent)`, '');
    lines.push('Heap (+ external) growth after GC, divided by the events sent; median of 3 processes.', '');
    lines.push('| contender | bytes / queued event |', '| --- | ---: |');
    for (const m of memory) lines.push(`| ${NAMES[m.kind]} | ${fmt(m.bytesPerEvent, 0)} |`);
    lines.push('');
  }
  if (bundles.length) {
    lines.push('## Browser bundle', '', '| bundle | minified bytes | gzip -9 bytes |', '| --- | ---: | ---: |');
    for (const bundle of bundles) lines.push(`| ${bundle.name} | ${fmt(bundle.min, 0)} | ${fmt(bundle.gzip, 0)} |`);
    lines.push('');
  }
  if (transports.length) {
    lines.push('## Node transports: CPU per request', '', 'One request at a time with a 10-event body against the same collector, after a warm-up; medians.', '');
    lines.push(transportTable(transports), '');
  }
  return lines.join('\n');
}
