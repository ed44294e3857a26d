// Runs test files with Node's test runner (Node 20's --test takes no globs), one file at a time
// so that timing-sensitive suites do not compete for this machine's two cores.
// Usage: node scripts/test.mjs [dir-or-file ...]   (default: test/, without the long suites)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// unit and unit-io are vitest files (npm run test:unit, and npm test via vitest run), not node:test files.
const SKIP_DIRS = new Set(['soak', 'unit', 'unit-io']);
const args = process.argv.slice(2);
const roots = args.length ? args : ['test'];

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

const files = roots.flatMap((root) => collect(root, [], args.length > 0));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Browser suites drive Debian's Chromium; install it where we may (root, apt), as CI does.
const CHROMIUM = '/usr/bin/chromium';
if (files.some((file) => file.includes('browser')) && !existsSync(CHROMIUM)) {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || spawnSync('apt-get', ['--version']).status !== 0) {
    console.error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium) to run the browser tests`);
    process.exit(1);
  }
  console.log('installing chromium from Debian packages for the browser tests');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'chromium']]) {
    if (spawnSync('apt-get', args, { stdio: 'inherit', env }).status !== 0) process.exit(1);
  }
}

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
