// The browser bundles: size budget, no Node or fetch polyfills, CSP-safe, named where CDNs look.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from '../support/helpers';
// @ts-expect-error a plain .mjs script without declarations: its result is typed where it is used
import { spaBundle } from '../../scripts/spa-bundle.mjs';

interface SpaBundle {
  min: number;
  gzip: number;
  segments: boolean;
}

/**
 * The budgets are lines, not records of the last size: the script-tag bundle, minified and gzipped
 * (level 9), within 12.5 KiB; the smallest SPA use (esbuild, browser conditions: createInstance,
 * onReady, sendOdpEvent) within 13 KiB and without Real-Time Segments. Issue 22's goals are lower
 * (10 KiB and 9 KiB) and not reached yet: each test prints how far it is from its goal.
 * `node scripts/bundle-size.mjs` shows what each module costs; README.md shows the sizes
 * (written by scripts/readme-figures.mjs).
 */
const UMD_BUDGET_BYTES = 12_800;
const SPA_BUDGET_BYTES = 13_312;
const UMD_GOAL_BYTES = 10_240;
const SPA_GOAL_BYTES = 9_216;
const UMD = resolve(ROOT, 'dist/odp-sdk.umd.min.js');
const ESM = resolve(ROOT, 'dist/browser/index.mjs');
const SEGMENTS_ADDON = resolve(ROOT, 'dist/odp-sdk.segments.min.js');

const gzipSize = (text: string) => gzipSync(text, { level: 9 }).length;
describe('the browser bundles', { timeout: 30_000 }, () => {
  test(`the UMD bundle is at most ${UMD_BUDGET_BYTES} bytes minified and gzipped`, () => {
    const code = readFileSync(UMD, 'utf8');
    const size = gzipSize(code);
    const addon = readFileSync(SEGMENTS_ADDON, 'utf8');
    console.log(`# dist/odp-sdk.umd.min.js: ${code.length} bytes minified, ${size} gzipped (budget ${UMD_BUDGET_BYTES}; goal ${UMD_GOAL_BYTES}: ${Math.max(0, size - UMD_GOAL_BYTES)} to go); dist/odp-sdk.segments.min.js (add-on): ${addon.length} bytes, ${gzipSize(addon)} gzipped`);
    assert.ok(size <= UMD_BUDGET_BYTES, `the UMD bundle is ${size} bytes gzipped: it misses the budget of ${UMD_BUDGET_BYTES} by ${size - UMD_BUDGET_BYTES}`);
  });

  test(`the smallest SPA bundle (createInstance, onReady, sendOdpEvent) is at most ${SPA_BUDGET_BYTES} bytes gzipped and holds no segments code; importing odp-sdk/segments adds it`, async () => {
    const minimal: SpaBundle = await spaBundle();
    const withSegments: SpaBundle = await spaBundle({ segments: true });
    console.log(`# minimal SPA bundle: ${minimal.min} bytes minified, ${minimal.gzip} gzipped (budget ${SPA_BUDGET_BYTES}; goal ${SPA_GOAL_BYTES}: ${Math.max(0, minimal.gzip - SPA_GOAL_BYTES)} to go); with odp-sdk/segments: ${withSegments.min} bytes, ${withSegments.gzip} gzipped`);
    assert.equal(minimal.segments, false, 'the minimal bundle holds the segments code');
    assert.equal(withSegments.segments, true, 'importing odp-sdk/segments brings the segments code');
    assert.ok(minimal.gzip <= SPA_BUDGET_BYTES, `the minimal SPA bundle is ${minimal.gzip} bytes gzipped: it misses the budget of ${SPA_BUDGET_BYTES} by ${minimal.gzip - SPA_BUDGET_BYTES}`);
  });

  test('the browser bundles hold no fetch polyfill, no Node built-in, no eval or new Function', () => {
    for (const file of [UMD, ESM, SEGMENTS_ADDON]) {
      const code = readFileSync(file, 'utf8');
      for (const forbidden of [/cross-fetch/, /node-fetch/, /\brequire\(/, /["']node:/, /\beval\(/, /new Function\b/, /\bprocess\.env\b/]) {
        assert.doesNotMatch(code, forbidden, `${file} contains ${forbidden}`);
      }
    }
    assert.match(readFileSync(ESM, 'utf8'), /\bexport ?\{/, 'the browser build is an ES module');
  });

  test('the UMD bundle has a source map, defines the global odpSdk, and package.json points CDNs and bundlers at the builds', () => {
    const code = readFileSync(UMD, 'utf8');
    assert.match(code, /\/\/# sourceMappingURL=odp-sdk\.umd\.min\.js\.map\s*$/);
    const map = JSON.parse(readFileSync(`${UMD}.map`, 'utf8')) as { sources: string[]; mappings: string };
    assert.ok(map.sources.length > 10 && map.mappings.length > 0);
    assert.match(code, /\.odpSdk=/);
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as Record<string, unknown> & { exports: Record<string, Record<string, { default: string }>> };
    assert.equal(pkg.unpkg, './dist/odp-sdk.umd.min.js');
    assert.equal(pkg.jsdelivr, './dist/odp-sdk.umd.min.js');
    assert.equal(pkg.exports['.']?.browser?.default, './dist/browser/index.mjs');
    assert.ok(existsSync(ESM));
  });
});
