import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SDK_NAME, SDK_VERSION } from '../../src/meta';
import { nodePlatform } from '../../src/platform/node/node-platform';
import { createSegments, type SegmentsFactory } from '../../src/segments/segments-manager';
import { segments } from '../../src/segments/index';
import type { OdpSegments } from '../../src/types';
import { captureLogger, datafile } from './harness';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.stubGlobal('fetch', () => {
    throw new Error('the unit tier opens no sockets');
  });
});

describe('meta', () => {
  it('data_source is odp-sdk and its version is package.json\'s', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    expect(SDK_NAME).toBe('odp-sdk');
    expect(SDK_NAME).toBe(pkg.name);
    expect(SDK_VERSION).toBe(pkg.version);
  });
});

describe('nodePlatform', () => {
  it('schedule: runs after ms on an unref\'d timer; cancel stops it', () => {
    const made: NodeJS.Timeout[] = [];
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
      const timer = real(fn, ms);
      made.push(timer);
      return timer;
    }) as typeof setTimeout);
    const cancel = nodePlatform.schedule(() => {}, 60_000);
    spy.mockRestore();
    expect(made).toHaveLength(1);
    expect(made[0]!.hasRef()).toBe(false);
    cancel();

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let ran = 0;
    nodePlatform.schedule(() => void ran++, 100);
    const stop = nodePlatform.schedule(() => void (ran += 10), 100);
    stop();
    vi.advanceTimersByTime(99);
    expect(ran).toBe(0);
    vi.advanceTimersByTime(1);
    expect(ran).toBe(1);
  });

  it('holdOpen keeps a referenced timer until released', () => {
    const made: NodeJS.Timeout[] = [];
    const real = globalThis.setInterval;
    const spy = vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms: number) => {
      const timer = real(fn, ms);
      made.push(timer);
      return timer;
    }) as typeof setInterval);
    const release = nodePlatform.holdOpen!();
    spy.mockRestore();
    expect(made).toHaveLength(1);
    expect(made[0]!.hasRef()).toBe(true);
    release();
    // A cleared interval no longer holds the loop: Node marks it destroyed.
    expect((made[0] as unknown as { _destroyed: boolean })._destroyed).toBe(true);
  });

  it('UUID v4 ids; the node:http transport (no request made)', () => {
    expect(nodePlatform.newId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(nodePlatform.newId()).not.toBe(nodePlatform.newId());
    const transport = nodePlatform.createTransport({ maxSockets: 1 });
    expect(typeof transport.request).toBe('function');
    transport.close();
    expect(nodePlatform.storage).toBeUndefined();
    expect(nodePlatform.keepaliveBytes).toBe(0);
  });
});

describe('entry points', () => {
  it('every entry point exports the same API: createInstance, OdpError, isOdpError, SDK_NAME, SDK_VERSION (and its SDK_BUILD); no class but OdpError', async () => {
    const api = ['OdpError', 'SDK_BUILD', 'SDK_NAME', 'SDK_VERSION', 'createInstance', 'isOdpError'];
    for (const entry of [await import('../../src/index'), await import('../../src/index.browser'), await import('../../src/index.worker')]) {
      expect(Object.keys(entry).sort()).toEqual(api);
    }
    // The script tag names no build, and carries the add-on's hook.
    const umd = await import('../../src/index.umd');
    expect(Object.keys(umd).sort()).toEqual([...api.filter((name) => name !== 'SDK_BUILD'), 'useSegments'].sort());
  });

  it('isOdpError: true for an OdpError of this copy or of another copy (a brand, not instanceof), false for anything else', async () => {
    const { OdpError, isOdpError } = await import('../../src/event/odp-error');
    vi.resetModules();
    const other = await import('../../src/event/odp-error');
    expect(other.OdpError).not.toBe(OdpError);
    const foreign = new other.OdpError('queueFull', 'full');
    expect(foreign instanceof OdpError).toBe(false);
    expect(isOdpError(foreign)).toBe(true);
    expect(other.isOdpError(new OdpError('closed', 'closed'))).toBe(true);
    for (const value of [new Error('x'), { code: 'queueFull', message: 'm', name: 'OdpError' }, null, undefined, 'OdpError', 5]) {
      expect(isOdpError(value)).toBe(false);
    }
  });

  it('Node: createInstance makes a ready client on the Node platform, with segments', async () => {
    vi.resetModules(); // other tests reset the module registry: compare classes from one import
    const { createInstance, OdpError, SDK_BUILD } = await import('../../src/index');
    expect(SDK_BUILD).toBe('node');
    const client = createInstance({ datafile: datafile(), logger: captureLogger() });
    expect(typeof OdpError).toBe('function');
    expect(client.isReady()).toBe(true);
    expect(client.getVuid()).toBeNull();
    // Segments are in: a datafile without ODP segments answers [] without a request.
    expect(await client.createUserContext('u')!.fetchQualifiedSegments()).toBe(true);
    await client.close({ timeoutMs: 0 });
  });

  it('browser ESM: createInstance on the browser platform, without segments until the page adds them (odp-sdk/segments)', async () => {
    const { createInstance, SDK_BUILD } = await import('../../src/index.browser');
    const { segments } = await import('../../src/segments/index');
    expect(SDK_BUILD).toBe('browser');
    const logger = captureLogger();
    const client = createInstance({ datafile: datafile(), logger });
    expect(client.isReady()).toBe(true);
    expect(client.createUserContext('u')).toBeNull();
    expect(logger.text()).toMatch(/createUserContext needs the segments extension/);
    const withSegments = createInstance({ datafile: datafile(), logger, segments });
    expect(await withSegments.createUserContext('u')!.fetchQualifiedSegments()).toBe(true);
    const wrong = createInstance({ datafile: datafile(), logger, segments: {} as never });
    expect(logger.text()).toMatch(/invalid config: segments must be the export of 'odp-sdk\/segments'; ignored/);
    expect(wrong.createUserContext('u')).toBeNull();
    for (const c of [client, withSegments, wrong]) await c.close({ timeoutMs: 0 });
  });

  it('script tag: no segments until the add-on calls useSegments', async () => {
    vi.resetModules();
    const umd = await import('../../src/index.umd');
    const logger = captureLogger();
    const before = umd.createInstance({ datafile: datafile(), logger, logLevel: 'error' });
    expect(before.createUserContext('u')).toBeNull();
    expect(logger.text()).toMatch(/script tag: odp-sdk\.segments\.min\.js/);
    let made = 0;
    const service: SegmentsFactory = (...args) => {
      made++;
      return createSegments(...args);
    };
    umd.useSegments({ ...segments, service } as OdpSegments);
    const after = umd.createInstance({ datafile: datafile(), logger });
    expect(made).toBe(1);
    expect(await after.createUserContext('u')!.fetchQualifiedSegments()).toBe(true);
    await before.close({ timeoutMs: 0 });
    await after.close({ timeoutMs: 0 });
  });

  it('the segments add-on registers itself with the global odpSdk, or says it was loaded too early', async () => {
    vi.resetModules();
    const registered: unknown[] = [];
    vi.stubGlobal('odpSdk', { useSegments: (extension: unknown) => registered.push(extension) });
    await import('../../src/segments/segments-addon');
    const { segments: extension } = await import('../../src/segments/index');
    expect(registered).toEqual([extension]);

    vi.resetModules();
    vi.stubGlobal('odpSdk', {});
    const errors: unknown[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((message: unknown) => void errors.push(message));
    await import('../../src/segments/segments-addon');
    vi.resetModules();
    vi.stubGlobal('odpSdk', undefined);
    await import('../../src/segments/segments-addon');
    spy.mockRestore();
    expect(errors).toEqual(['[odp-sdk] load odp-sdk.segments.min.js after odp-sdk.umd.min.js', '[odp-sdk] load odp-sdk.segments.min.js after odp-sdk.umd.min.js']);
  });
});
