// Runs the integration test files with Node's test runner, one file per process and one file at a
// time, so timing-sensitive suites do not compete for this machine's two cores.
// Usage: node scripts/test.mjs [dir-or-file ...]   (default: test/ and collector/test/, without soak and the unit tier)
//
// Each file has its own node:test timeouts; this runner adds the last resort: a file still running
// after its limit (FILE_LIMITS) is killed with everything it started, and named as the one that hung.
// --test-force-exit ends a file once its tests are done, so a handle a failed setup left open
// cannot keep it alive. Nothing here installs anything: see test/browser/engines.ts for the browsers.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { SUMMARY_MARK } from './test-summary-reporter.mjs';

// soak is long (npm run test:soak); unit is the vitest tier (npm run test:unit).
// unit and unit-io are vitest files (npm run test:unit, and npm test via vitest run), not node:test files.
const SKIP_DIRS = new Set(['soak', 'unit', 'unit-io']);
const MINUTE = 60_000;
const soakMinutes = Number(process.env.SOAK_MINUTES ?? 10);
/** Per-file kill, by path prefix (first match); above each file's own describe() timeout. TEST_FILE_LIMIT_MS overrides. */
const FILE_LIMITS = [
  ['test/chaos/', 20 * MINUTE],
  ['test/soak/', (Number.isFinite(soakMinutes) ? soakMinutes : 10) * MINUTE + 5 * MINUTE],
  ['', 5 * MINUTE],
];

const args = process.argv.slice(2);
const roots = args.length ? args : ['test', 'collector/test'];

function collect(path, out, explicit) {
  if (statSync(path).isFile()) {
    if (explicit || /\.test\.ts$/.test(path)) out.push(path);
    return out;
  }
  for (const name of readdirSync(path).sort()) {
    const child = join(path, name);
    if (statSync(child).isDirectory()) {
      if (!SKIP_DIRS.has(name) || explicit) collect(child, out, false);
    } else if (/\.test\.ts$/.test(name)) out.push(child);
  }
  return out;
}

const files = roots.flatMap((root) => collect(root, [], args.length > 0)).map((file) => relative(process.cwd(), file));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

let running; // the child process group of the file under way, for a signal to end it
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (running) killGroup(running);
    process.exit(130);
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL'); // the file's process, its test process and any browser, driver or Xvfb it started
  } catch {
    // already gone
  }
}

/** Runs one file; resolves with its exit code, counts and skips, and whether it was killed. */
function runFile(file) {
  const limitMs = Number(process.env.TEST_FILE_LIMIT_MS) || FILE_LIMITS.find(([prefix]) => file.startsWith(prefix))[1];
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', '--test', '--test-force-exit',
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      `--test-reporter=${new URL('./test-summary-reporter.mjs', import.meta.url).href}`, '--test-reporter-destination=stdout',
      file,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  running = child;
  const summary = { counts: {}, skipped: [] };
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line.startsWith(SUMMARY_MARK)) {
      const { skip, counts } = JSON.parse(line.slice(SUMMARY_MARK.length));
      if (skip !== undefined) summary.skipped.push(skip);
      if (counts !== undefined) Object.assign(summary.counts, counts);
    } else process.stdout.write(`${line}\n`);
  });
  const outputRead = new Promise((resolve) => lines.once('close', resolve));
  let hung = false;
  const watchdog = setTimeout(() => {
    hung = true;
    console.error(`\n!! ${file} still running after ${limitMs / 1000} s (its per-file limit): killed. It hung; see the last output above.\n`);
    killGroup(child);
  }, limitMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      running = undefined;
      // readline may still hold the last line (the summary) when the process closes
      outputRead.then(() => resolve({ code: code ?? (signal ? 1 : 0), hung, ...summary }));
    });
  });
}

const results = [];
const started = Date.now();
for (const file of files) {
  console.log(`\n▶ ${file}`);
  const fileStarted = Date.now();
  const result = await runFile(file);
  results.push({ file, seconds: (Date.now() - fileStarted) / 1000, ...result });
}

const total = (key) => results.reduce((sum, r) => sum + (r.counts[key] ?? 0), 0);
console.log('\nper file:');
for (const r of results) {
  const status = r.hung ? 'HUNG (killed)' : r.code === 0 ? 'ok' : 'FAILED';
  const c = r.counts;
  console.log(`  ${status.padEnd(13)} ${r.file.padEnd(46)} ${String(c.tests ?? '?').padStart(4)} tests ${String(r.skipped.length).padStart(3)} skipped ${r.seconds.toFixed(1).padStart(7)} s`);
}
console.log(
  `\n${files.length} files, ${total('tests')} tests: ${total('pass')} passed, ${total('fail')} failed, ` +
    `${total('cancelled')} cancelled, ${results.reduce((sum, r) => sum + r.skipped.length, 0)} skipped (tests or suites), in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
const skipped = results.flatMap((r) => r.skipped.map((s) => `${r.file}: ${s}`));
if (skipped.length) {
  // Loud on purpose: a skipped browser test is a part of the SDK nobody checked on this machine.
  console.log(`\n!! ${skipped.length} test(s) SKIPPED, not passed:`);
  for (const line of skipped) console.log(`!!   ${line}`);
}
const failed = results.filter((r) => r.code !== 0);
if (failed.length) console.log(`\nfailed: ${failed.map((r) => `${r.file}${r.hung ? ' (hung, killed)' : ''}`).join(', ')}`);
process.exit(failed.length ? 1 : 0);
