// Sizes in README.md come from the build, never from a keyboard: each sits between markers,
// `<!-- figure:NAME -->…<!-- /figure -->`, and this script measures dist/ and rewrites them.
//   node scripts/readme-figures.mjs          rewrite README.md (after `npm run build`)
//   node scripts/readme-figures.mjs --check  exit 1, naming each stale figure, if README.md is not current
// test/readme.test.ts runs the check, so a size typed by hand, or left behind by a change, fails `npm test`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';
import { spaBundle } from './spa-bundle.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MARKER = /<!-- figure:([\w-]+) -->([\s\S]*?)<!-- \/figure -->/g;

const bytes = (n) => `${n.toLocaleString('en-US')} B`;
/** gzip level 9, as the bundle budget test measures. */
const gzip = (text) => gzipSync(text, { level: 9 }).length;

/** Every figure, by marker name, measured from dist/ (and the budget the bundle test enforces). */
export async function measure(root = ROOT) {
  const read = (path) => readFileSync(join(root, path), 'utf8');
  const umd = read('dist/odp-sdk.umd.min.js');
  const addon = read('dist/odp-sdk.segments.min.js');
  const worker = read('dist/worker/index.mjs');
  // Minified as a bundler in production would (the options of the UMD build, as an ES module).
  const workerMin = (await minify(worker, { ecma: 2020, module: true, compress: { passes: 3 }, format: { comments: false } })).code;
  const optimizely = read('node_modules/@optimizely/optimizely-sdk/dist/optimizely.browser.umd.min.js');
  const line = (name) => {
    const value = new RegExp(`const ${name} = ([\\d_]+);`).exec(read('test/browser/bundle.test.ts'))?.[1];
    if (!value) throw new Error(`${name} not found in test/browser/bundle.test.ts`);
    return Number(value.replaceAll('_', ''));
  };
  const spa = await spaBundle({ root });
  const spaWithSegments = await spaBundle({ root, segments: true });
  return {
    'umd-size': `${bytes(umd.length)} / ${bytes(gzip(umd))}`,
    'umd-budget': bytes(line('UMD_BUDGET_BYTES')),
    'umd-goal': bytes(line('UMD_GOAL_BYTES')),
    'spa-size': `${bytes(spa.min)} / ${bytes(spa.gzip)}`,
    'spa-budget': bytes(line('SPA_BUDGET_BYTES')),
    'spa-goal': bytes(line('SPA_GOAL_BYTES')),
    'spa-segments-size': `${bytes(spaWithSegments.min)} / ${bytes(spaWithSegments.gzip)}`,
    'segments-addon-size': `${bytes(addon.length)} / ${bytes(gzip(addon))}`,
    'worker-size': `${bytes(worker.length)} unminified, ${bytes(workerMin.length)} minified, ${bytes(gzip(workerMin))} minified and gzipped`,
    'bundles-compared': `odp-sdk UMD ${bytes(gzip(umd))}, Optimizely UMD ${bytes(gzip(optimizely))}`,
  };
}

/**
 * `text` with each marked figure replaced by its measured value. Throws for a marker that names no
 * figure, or a figure that no marker shows (a figure dropped from README.md must go from here too).
 */
export function rewrite(text, figures) {
  const used = new Set();
  const out = text.replace(MARKER, (_, name) => {
    if (!(name in figures)) throw new Error(`README.md marks an unknown figure: ${name}`);
    used.add(name);
    return `<!-- figure:${name} -->${figures[name]}<!-- /figure -->`;
  });
  const unused = Object.keys(figures).filter((name) => !used.has(name));
  if (unused.length) throw new Error(`figures not marked in README.md: ${unused.join(', ')}`);
  return out;
}

/** The marked figures of `text` whose value differs from `figures`: [name, written, measured]. */
export function stale(text, figures) {
  return [...text.matchAll(MARKER)].filter(([, name, value]) => figures[name] !== value).map(([, name, value]) => [name, value, figures[name]]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = join(ROOT, 'README.md');
  const text = readFileSync(path, 'utf8');
  const figures = await measure();
  if (process.argv.includes('--check')) {
    const wrong = stale(text, figures);
    for (const [name, written, measured] of wrong) console.error(`README.md figure ${name}: says "${written}", the build measures "${measured}"`);
    if (wrong.length) {
      console.error('run `npm run figures` (build, then rewrite README.md)');
      process.exit(1);
    }
    rewrite(text, figures); // every figure is marked
  } else {
    const next = rewrite(text, figures);
    if (next !== text) writeFileSync(path, next);
    console.log(next === text ? 'README.md figures are current' : `README.md figures rewritten: ${stale(text, figures).map(([name]) => name).join(', ')}`);
  }
}
