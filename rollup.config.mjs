// Builds from tsc's output in build/ (scripts/build.mjs runs tsc first):
// Node ESM + CJS, browser ESM, a UMD bundle (global `odpSdk`), the collector CLI, and bundled types.
import { builtinModules } from 'node:module';
import commonjs from '@rollup/plugin-commonjs';
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { dts } from 'rollup-plugin-dts';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];
const runtimeDeps = ['p-queue', 'uuid'];
const isDep = (id) => runtimeDeps.some((dep) => id === dep || id.startsWith(`${dep}/`));
const terserOptions = { ecma: 2020, module: false, compress: { passes: 2 }, format: { comments: false } };

/** tsc keeps the CLI's shebang; rollup wants it only as a banner. */
const stripShebang = {
  name: 'strip-shebang',
  transform: (code) => (code.startsWith('#!') ? { code: code.replace(/^#!.*/, ''), map: null } : null),
};

export default [
  // Node ESM: dependencies stay external so apps share them.
  {
    input: 'build/index.js',
    external: (id) => nodeBuiltins.includes(id) || isDep(id),
    output: { file: 'dist/node/index.mjs', format: 'es' },
  },
  // Node CJS: p-queue and uuid ship as ESM only, so they are bundled in.
  {
    input: 'build/index.js',
    external: nodeBuiltins,
    plugins: [resolve({ exportConditions: ['node', 'import', 'default'], preferBuiltins: true }), commonjs()],
    output: { file: 'dist/node/index.cjs', format: 'cjs', exports: 'named' },
  },
  // Browser ESM for bundlers and <script type="module">: self-contained.
  {
    input: 'build/index.browser.js',
    plugins: [resolve({ browser: true, exportConditions: ['browser', 'import', 'default'] }), commonjs()],
    output: { file: 'dist/browser/index.mjs', format: 'es' },
  },
  // Script tag: UMD with the global `odpSdk`, plain and minified.
  {
    input: 'build/index.browser.js',
    plugins: [resolve({ browser: true, exportConditions: ['browser', 'import', 'default'] }), commonjs()],
    output: [
      { file: 'dist/odp-sdk.umd.js', format: 'umd', name: 'odpSdk', exports: 'named' },
      {
        file: 'dist/odp-sdk.umd.min.js',
        format: 'umd',
        name: 'odpSdk',
        exports: 'named',
        sourcemap: true,
        plugins: [terser(terserOptions)],
      },
    ],
  },
  // The local collector's CLI (`odp-sdk-collector`).
  {
    input: 'build/collector/cli.js',
    external: nodeBuiltins,
    plugins: [stripShebang],
    output: { file: 'dist/collector/cli.mjs', format: 'es', banner: '#!/usr/bin/env node' },
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
];
