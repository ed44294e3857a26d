// The smallest use of the SDK in a single-page app, bundled as an app would be: esbuild with the
// browser conditions, minified, from a consumer folder where `odp-sdk` resolves like an installed
// dependency. `createInstance` + `onReady` + `sendOdpEvent`; with `segments: true`, the same app that
// adds Real-Time Segments from `odp-sdk/segments`. Used by the budget test and README's figures.
//   node scripts/spa-bundle.mjs    prints both (after `npm run build`)
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const MINIMAL = `import { createInstance } from 'odp-sdk';
const client = createInstance({ sdkKey: 'YOUR_SDK_KEY' });
client.onReady().then(() => client.sendOdpEvent({ action: 'pageview', identifiers: { fs_user_id: 'user123' } }));
`;
const WITH_SEGMENTS = `import { createInstance } from 'odp-sdk';
import { segments } from 'odp-sdk/segments';
const client = createInstance({ sdkKey: 'YOUR_SDK_KEY', segments });
client.onReady().then(() => client.createUserContext('user123')?.fetchQualifiedSegments());
`;

/** The bundle's size (minified, gzip -9) and whether it holds the segments code (its GraphQL request). */
export async function spaBundle({ segments = false, root = ROOT } = {}) {
  const consumer = mkdtempSync(join(tmpdir(), 'odp-sdk-spa-'));
  try {
    mkdirSync(join(consumer, 'node_modules'));
    symlinkSync(root, join(consumer, 'node_modules', 'odp-sdk'), 'dir');
    writeFileSync(join(consumer, 'app.mjs'), segments ? WITH_SEGMENTS : MINIMAL);
    const result = await build({ entryPoints: ['app.mjs'], absWorkingDir: consumer, bundle: true, minify: true, write: false, format: 'esm', platform: 'browser', conditions: ['browser'], logLevel: 'silent' });
    const code = result.outputFiles[0].text;
    return { min: code.length, gzip: gzipSync(code, { level: 9 }).length, segments: code.includes('/v3/graphql') };
  } finally {
    rmSync(consumer, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const segments of [false, true]) console.log(segments ? 'with odp-sdk/segments' : 'minimal', await spaBundle({ segments }));
}
