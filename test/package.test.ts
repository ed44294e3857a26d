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
    const source = `import { createInstance, isOdpError, OdpError, type OdpClient, type OdpClientConfig, type OdpStats, type OdpUserContext } from 'odp-sdk';
import { segments } from 'odp-sdk/segments';
const config: OdpClientConfig = { sdkKey: 'k', odp: { batchSize: 20, flushIntervalMs: 0 }, logLevel: 'info', segments };
const client = createInstance(config);
const result: OdpError | null = client.sendOdpEvent({ action: 'purchased', identifiers: { fs_user_id: 'u' }, data: { price: 5, ok: true, none: null } });
const positional = client.sendOdpEvent('fullstack', 'viewed', new Map([['email', 'a@b.c']]));
if (result) { const code: 'queueFull' | string = result.code; void code; }
const stats: OdpStats = client.stats();
const off: () => void = client.on('dropped', ({ reason, count }) => void [reason, count]);
// @ts-expect-error data values must be flat
client.sendOdpEvent({ action: 'a', identifiers: { email: 'e' }, data: { nested: { a: 1 } } });
const once: () => void = client.once('delivered', ({ count, status }) => void [count, status]);
const settled: Promise<boolean> = client.flush({ timeoutMs: 100 });
const maybe: unknown = positional;
if (isOdpError(maybe)) { const code: OdpError['code'] = maybe.code; void code; }
const typed: OdpClient = client;
const user: OdpUserContext | null = client.createUserContext('u');
// @ts-expect-error OdpClient is an interface: there is no class to construct
new OdpClient({}, {});
void [positional, stats, off, once, settled, typed, user, client.flush(), client.close({ timeoutMs: 100 }), client.onReady({ timeoutMs: 1 })];
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

  test('the published .d.ts (ESM and CJS) declares the documented API only, each with a doc comment: no internal class or type', () => {
    const documented = [
      'CloseOptions', 'DropReason', 'FetchQualifiedSegmentsOptions', 'FlushOptions', 'LogLevel', 'Logger', 'OdpClient', 'OdpClientConfig',
      'OdpClientEvents', 'OdpData', 'OdpDataValue', 'OdpError', 'OdpErrorCode', 'OdpEvent', 'OdpEventInput', 'OdpIdentifiers', 'OdpOptions', 'OdpSegments',
      'OdpSettings', 'OdpStats', 'OdpUserAttributes', 'OdpUserContext', 'OdpWireEvent', 'OnReadyOptions', 'OptimizelySegmentOption', 'SDK_BUILD', 'SDK_NAME',
      'SDK_VERSION', 'SdkBuild', 'createInstance', 'isOdpError',
    ];
    const internals = ['Client', 'UserContext', 'Dispatcher', 'Platform', 'StatsTracker', 'SafeLogger', 'Emitter', 'Transport', 'Lane', 'Batch', 'ClientHandle', 'HostLifecycle', 'KeyValueStorage', 'SegmentsFactory', 'SegmentsService', 'UserContextHost', 'DatafileManager', 'BatchQueue', 'FlushScheduler'];
    for (const file of ['dist/index.d.mts', 'dist/index.d.cts']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const declarations = [...text.matchAll(/^(?:declare (?:abstract )?(?:class|function|const|let|enum|namespace)|interface|type) ([A-Za-z_$][\w$]*)/gm)];
      const declared = declarations.map((match) => match[1]!);
      assert.deepEqual([...new Set(declared)].sort(), [...documented].sort(), `${file} declares exactly the documented API`);
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      for (const name of internals) assert.doesNotMatch(code, new RegExp(`\\b${name}\\b`), `${file} names the internal ${name}`);
      assert.equal((text.match(/^declare class /gm) ?? []).length, 1, 'OdpError is the one class');
      for (const match of declarations) {
        const before = text.slice(0, match.index).trimEnd();
        assert.ok(before.endsWith('*/'), `${file}: ${match[1]} has no doc comment`);
      }
    }
    // odp-sdk/segments: the extension and its type, nothing more.
    for (const file of ['dist/segments/index.d.mts', 'dist/segments/index.d.cts']) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const declared = [...text.matchAll(/^(?:declare (?:class|function|const)|interface|type) ([A-Za-z_$][\w$]*)/gm)].map((match) => match[1]!);
      assert.deepEqual(declared.sort(), ['OdpSegments', 'segments'], `${file} declares the extension only`);
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '');
      for (const name of internals) assert.doesNotMatch(code, new RegExp(`\\b${name}\\b`), `${file} names the internal ${name}`);
    }
  });

  test('isOdpError() recognises an OdpError of the CJS copy from the ESM copy and back, where instanceof cannot', async () => {
    writeFileSync(join(consumer, 'dual.mjs'), `import { createRequire } from 'node:module';
import * as esm from 'odp-sdk';
const cjs = createRequire(import.meta.url)('odp-sdk');
const datafile = { version: '4', integrations: [{ key: 'odp', host: 'https://odp.invalid', publicKey: 'k' }] };
const fromCjs = cjs.createInstance({ datafile, logLevel: 'silent' }).sendOdpEvent({ action: '', identifiers: { fs_user_id: 'u' } });
const fromEsm = esm.createInstance({ datafile, logLevel: 'silent' }).sendOdpEvent({ action: '', identifiers: { fs_user_id: 'u' } });
console.log(JSON.stringify({
  twoCopies: cjs.OdpError !== esm.OdpError,
  instanceOf: fromCjs instanceof esm.OdpError,
  esmGuard: esm.isOdpError(fromCjs),
  cjsGuard: cjs.isOdpError(fromEsm),
  code: fromCjs.code,
  plainError: esm.isOdpError(new Error('x')),
}));
`);
    const { stdout } = await run(process.execPath, ['dual.mjs'], { cwd: consumer });
    assert.deepEqual(JSON.parse(stdout), { twoCopies: true, instanceOf: false, esmGuard: true, cjsGuard: true, code: 'invalidAction', plainError: false });
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
