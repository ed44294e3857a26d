// Builds from tsc's output in build/ (scripts/build.mjs runs tsc first):
// Node ESM + CJS, browser ESM, worker ESM, a UMD bundle (global `odpSdk`), and bundled types. The collector builds itself (collector/).
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import terser from '@rollup/plugin-terser';
import { dts } from 'rollup-plugin-dts';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];

/**
 * Names of `private` members, read from tsc's declarations in build/, less every name that is
 * also declared public somewhere: the minified UMD shortens these (terser property mangling).
 * TypeScript's `private` is the naming convention, so nothing needs renaming by hand.
 */
function privateMemberNames() {
  const priv = new Set();
  const pub = new Set();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (path.endsWith('.d.ts')) {
        for (const line of readFileSync(path, 'utf8').split('\n')) {
          const member = /^\s+(private )?(?:(?:readonly|static|protected|get|set) )*([A-Za-z_$][\w$]*)\??[(:;<]/.exec(line);
          if (member) (member[1] ? priv : pub).add(member[2]);
        }
      }
    }
  };
  walk('build');
  return [...priv].filter((name) => !pub.has(name)).sort();
}

const terserOptions = { ecma: 2020, module: false, compress: { passes: 3 }, format: { comments: false } };
const umdTerserOptions = () => ({
  ...terserOptions,
  mangle: { properties: { regex: new RegExp(`^(?:${privateMemberNames().join('|')})$`) } },
});

export default [
  // Node ESM: it imports Node's built-ins only (the package has no runtime dependencies).
  {
    input: 'build/index.js',
    external: nodeBuiltins,
    output: { file: 'dist/node/index.mjs', format: 'es' },
  },
  // Node CJS.
  {
    input: 'build/index.js',
    external: nodeBuiltins,
    output: { file: 'dist/node/index.cjs', format: 'cjs', exports: 'named' },
  },
  // Browser ESM for bundlers and <script type="module">: self-contained, and minified like the script
  // tag (private members shortened), with a source map: a page pays for it whatever its bundler does.
  {
    input: 'build/index.browser.js',
    output: { file: 'dist/browser/index.mjs', format: 'es', sourcemap: true, plugins: [terser({ ...umdTerserOptions(), module: true })] },
  },
  // odp-sdk/segments: Real-Time Segments and user contexts, an extension a page adds (the Node and
  // runtime builds include it). ESM (minified, as the browser build) and CJS; it imports nothing.
  {
    input: 'build/segments/index.js',
    output: [
      { file: 'dist/segments/index.mjs', format: 'es', sourcemap: true, plugins: [terser({ ...umdTerserOptions(), module: true })] },
      { file: 'dist/segments/index.cjs', format: 'cjs', exports: 'named' },
    ],
  },
  // Workers, edge functions, Deno: fetch-based and self-contained (it imports nothing, not even a Node built-in).
  {
    input: 'build/index.worker.js',
    output: { file: 'dist/worker/index.mjs', format: 'es' },
  },
  // Script tag: UMD with the global `odpSdk`, plain and minified; events only (segments: the add-on below).
  {
    input: 'build/index.umd.js',
    output: [
      { file: 'dist/odp-sdk.umd.js', format: 'umd', name: 'odpSdk', exports: 'named' },
      {
        file: 'dist/odp-sdk.umd.min.js',
        format: 'umd',
        name: 'odpSdk',
        exports: 'named',
        sourcemap: true,
        plugins: [terser(umdTerserOptions())],
      },
    ],
  },
  // Script-tag add-on: Real-Time Segments for clients of the UMD bundle (loaded after it).
  {
    input: 'build/segments/segments-addon.js',
    output: { file: 'dist/odp-sdk.segments.min.js', format: 'iife', sourcemap: true, plugins: [terser(umdTerserOptions())] },
  },
  // Types, for `import` and for `require`.
  {
    input: 'build/index.d.ts',
    plugins: [dts()],
    output: [
      { file: 'dist/index.d.mts', format: 'es' },
      { file: 'dist/index.d.cts', format: 'es' },
    ],
  },
  {
    input: 'build/segments/index.d.ts',
    plugins: [dts()],
    output: [
      { file: 'dist/segments/index.d.mts', format: 'es' },
      { file: 'dist/segments/index.d.cts', format: 'es' },
    ],
  },
];
