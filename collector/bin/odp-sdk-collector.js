#!/usr/bin/env node
// The command `odp-sdk-collector`. npm links a workspace's bin when it installs, before anything is
// built, so the bin cannot be the built file itself: this committed file runs dist/cli.js, and in a
// checkout (src/ beside it) first builds it with tsc when it is missing or older than a source file.
// A published package ships dist/ and no src/, so there it only runs the CLI.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = new URL('../dist/cli.js', import.meta.url);
const src = `${root}src`;

function stale() {
  if (!existsSync(cli)) return true;
  const built = statSync(cli).mtimeMs;
  return readdirSync(src).some((name) => statSync(`${src}/${name}`).mtimeMs > built);
}

if (existsSync(src) && stale()) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    console.error('odp-sdk-collector: dist/ is missing or stale and TypeScript is not installed: run `npm install` in the repository first');
    process.exit(1);
  }
  console.error('odp-sdk-collector: building the collector (src/ is newer than dist/)');
  execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.json`], { stdio: 'inherit' });
}
await import(cli.href);
