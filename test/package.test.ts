import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startCollector, type Collector } from '../collector/src/collector';
import { API_KEY, ROOT } from './support/helpers';

// The built package as users get it (npm test builds dist/ first), from a consumer folder
// where `odp-sdk` resolves through node_modules like an installed dependency.
const run = promisify(execFile);
let collector: Collector;
let consumer: string;

const program = (load: string) => `${load}
const client = createInstance({ datafile: { version: '4', integrations: [{ key: 'odp', host: process.env.URL, publicKey: process.env.KEY }] } });
const refused = client.sendOdpEvent({ action: '', identifiers: { fs_user_id: 'u' } });
if (!(refused instanceof OdpError) || refused.code !== 'invalidAction') throw new Error('OdpError is not exported');
client.sendOdpEvent('fullstack', 'built', { fs_user_id: process.env.USER_ID });
client.close().then(() => console.log(JSON.stringify(client.stats())));
`;

async function runConsumer(file: string, source: string, userId: string) {
  writeFileSync(join(consumer, file), source);
  const { stdout } = await run(process.execPath, [file], { cwd: consumer, env: { ...process.env, URL: collector.url, KEY: API_KEY, USER_ID: userId } });
  return JSON.parse(stdout) as { delivered: number };
}

describe('the built package', { timeout: 3 * 60_000 }, () => {
  before(async () => {
    collector = await startCollector({ apiKey: API_KEY });
    consumer = mkdtempSync(join(tmpdir(), 'odp-sdk-consumer-'));
    mkdirSync(join(consumer, 'node_modules'));
    symlinkSync(ROOT, join(consumer, 'node_modules', 'odp-sdk'), 'dir');
  });
  after(async () => {
    await collector?.close();
    if (consumer) rmSync(consumer, { recursive: true, force: true });
  });

  test('imports in Node ESM and delivers', async () => {
    const stats = await runConsumer('esm.mjs', program("import { createInstance, OdpError } from 'odp-sdk';"), 'esm-user');
    assert.equal(stats.delivered, 1);
    assert.ok(collector.events.some((e) => e.identifiers.fs_user_id === 'esm-user'));
  });

  test('requires in Node CommonJS and delivers', async () => {
    const stats = await runConsumer('cjs.cjs', program("const { createInstance, OdpError } = require('odp-sdk');"), 'cjs-user');
    assert.equal(stats.delivered, 1);
    assert.ok(collector.events.some((e) => e.identifiers.fs_user_id === 'cjs-user'));
  });

  test('its types compile in strict consumer files (ESM and CJS resolution)', async () => {
    const source = `import { createInstance, OdpError, type OdpClientConfig, type OdpStats } from 'odp-sdk';
const config: OdpClientConfig = { sdkKey: 'k', odp: { batchSize: 20, flushIntervalMs: 0 }, logLevel: 'info' };
const client = createInstance(config);
const result: OdpError | null = client.sendOdpEvent({ action: 'purchased', identifiers: { fs_user_id: 'u' }, data: { price: 5, ok: true, none: null } });
const positional = client.sendOdpEvent('fullstack', 'viewed', new Map([['email', 'a@b.c']]));
if (result) { const code: 'queueFull' | string = result.code; void code; }
const stats: OdpStats = client.stats();
const off: () => void = client.on('dropped', ({ reason, count }) => void [reason, count]);
// @ts-expect-error data values must be flat
client.sendOdpEvent({ action: 'a', identifiers: { email: 'e' }, data: { nested: { a: 1 } } });
void [positional, stats, off, client.flush(), client.close({ timeoutMs: 100 }), client.onReady({ timeoutMs: 1 })];
`;
    writeFileSync(join(consumer, 'consumer.mts'), source);
    writeFileSync(join(consumer, 'consumer.cts'), source);
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', skipLibCheck: false, types: [] },
      files: ['consumer.mts', 'consumer.cts'],
    }));
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', consumer]).catch((error: { stdout?: string }) => {
      assert.fail(`tsc failed:\n${error.stdout ?? String(error)}`);
    });
  });

  test('package.json points unpkg/jsdelivr at the UMD bundle and resolves the browser condition', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown> & { exports: Record<string, Record<string, { default: string }>> };
    assert.equal(pkg.unpkg, './dist/odp-sdk.umd.min.js');
    assert.equal(pkg.jsdelivr, './dist/odp-sdk.umd.min.js');
    assert.equal(pkg.exports['.']!.browser!.default, './dist/browser/index.mjs');
  });

  test('publint (strict) and arethetypeswrong find no problems in the packed package', async () => {
    const lint = await run(process.execPath, [join(ROOT, 'node_modules/publint/src/cli.js'), '--strict'], { cwd: ROOT });
    assert.match(lint.stdout, /No problems found|All good/i, lint.stdout);
    const attw = await run(process.execPath, [join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js'), '--pack', '.', '--format', 'ascii'], { cwd: ROOT }).catch((error: { stdout?: string }) => {
      assert.fail(`attw found problems:\n${error.stdout ?? String(error)}`);
    });
    assert.match(attw.stdout, /No problems found/, attw.stdout);
  });
});
