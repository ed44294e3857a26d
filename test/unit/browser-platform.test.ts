import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalStorage } from '../../src/platform/browser/local-storage';
import { createPageLifecycle } from '../../src/platform/browser/page-lifecycle';
import type { PageHandlers } from '../../src/platform/platform';
import { FakeStorage, wireEvent } from './harness';

/** A fake page: window and document as EventTargets, with storage and navigator. */
function fakeDom({ local = new FakeStorage(), online = true }: { local?: FakeStorage | null; online?: boolean | undefined } = {}) {
  const window = Object.assign(new EventTarget(), { localStorage: local });
  const document = Object.assign(new EventTarget(), { visibilityState: 'visible' as DocumentVisibilityState });
  vi.stubGlobal('window', window);
  vi.stubGlobal('document', document);
  vi.stubGlobal('addEventListener', window.addEventListener.bind(window));
  vi.stubGlobal('navigator', { onLine: online });
  if (local) vi.stubGlobal('localStorage', local);
  vi.stubGlobal('sessionStorage', new FakeStorage());
  return { window, document };
}

const transition = (type: string, persisted: boolean) => Object.assign(new Event(type), { persisted });

function recorder(): { calls: unknown[][]; handlers: PageHandlers } {
  const calls: unknown[][] = [];
  return {
    calls,
    handlers: {
      hide: (leaving, persisted) => calls.push(['hide', leaving, persisted]),
      show: () => calls.push(['show']),
      online: (online) => calls.push(['online', online]),
    },
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.stubGlobal('fetch', () => {
    throw new Error('the unit tier opens no sockets');
  });
});

describe('createLocalStorage', () => {
  it('undefined without a window, a null localStorage, or one that throws when touched', () => {
    expect(createLocalStorage()).toBeUndefined();
    vi.stubGlobal('window', { localStorage: null });
    expect(createLocalStorage()).toBeUndefined();
    vi.stubGlobal('window', {
      get localStorage() {
        throw new DOMException('denied', 'SecurityError');
      },
    });
    expect(createLocalStorage()).toBeUndefined();
  });

  it('get, set and remove; every call guarded', () => {
    const local = new FakeStorage();
    vi.stubGlobal('window', { localStorage: local });
    const storage = createLocalStorage()!;
    expect(storage.get('k')).toBeNull();
    expect(storage.set('k', 'v')).toBe(true);
    expect(local.getItem('k')).toBe('v');
    expect(storage.get('k')).toBe('v');
    storage.remove('k');
    expect(local.getItem('k')).toBeNull();
    local.broken = true;
    expect(storage.get('k')).toBeNull();
    expect(storage.set('k', 'v')).toBe(false);
    expect(() => storage.remove('k')).not.toThrow();
  });
});

describe('createPageLifecycle', () => {
  it('undefined outside a page', () => {
    expect(createPageLifecycle()).toBeUndefined();
    vi.stubGlobal('document', {});
    expect(createPageLifecycle()).toBeUndefined(); // no global addEventListener
  });

  it('a keep-alive budget of 60 KiB and a journal over localStorage', () => {
    const { window } = fakeDom();
    const page = createPageLifecycle()!;
    expect(page.keepaliveBytes).toBe(61_440);
    page.journal!.save({ pk: [wireEvent(1)] }, 100_000, false);
    expect((window.localStorage as FakeStorage).keys()).toHaveLength(1);
  });

  it('no journal when localStorage cannot be reached', () => {
    fakeDom({ local: null });
    expect(createPageLifecycle()!.journal).toBeUndefined();
  });

  it('online() follows navigator.onLine; unknown counts as online', () => {
    fakeDom({ online: false });
    expect(createPageLifecycle()!.online()).toBe(false);
    fakeDom({ online: true });
    expect(createPageLifecycle()!.online()).toBe(true);
    fakeDom({ online: undefined });
    expect(createPageLifecycle()!.online()).toBe(true);
  });

  it('hidden, pagehide, pageshow from the bfcache, online and offline reach the handlers; unwatch removes them', () => {
    const { window, document } = fakeDom();
    const { calls, handlers } = recorder();
    const unwatch = createPageLifecycle()!.watch(handlers);
    document.dispatchEvent(new Event('visibilitychange')); // visible: nothing
    window.dispatchEvent(transition('pageshow', false)); // a fresh load: nothing
    expect(calls).toEqual([]);
    document.visibilityState = 'hidden';
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(transition('pagehide', false));
    window.dispatchEvent(transition('pagehide', true));
    window.dispatchEvent(transition('pageshow', true));
    window.dispatchEvent(new Event('offline'));
    window.dispatchEvent(new Event('online'));
    expect(calls).toEqual([
      ['hide', false, false],
      ['hide', true, false],
      ['hide', true, true],
      ['show'],
      ['online', false],
      ['online', true],
    ]);
    unwatch();
    document.dispatchEvent(new Event('visibilitychange'));
    for (const type of ['pagehide', 'pageshow', 'online', 'offline']) window.dispatchEvent(transition(type, true));
    expect(calls).toHaveLength(6);
  });
});

describe('browserPlatform', () => {
  it('outside a page: no storage and no page; a fetch transport, a PriorityLane, setTimeout timers, UUID v4 ids; made once', async () => {
    vi.resetModules();
    const { browserPlatform } = await import('../../src/platform/browser/browser-platform');
    const { PriorityLane } = await import('../../src/dispatcher/lane');
    const platform = browserPlatform();
    expect(browserPlatform()).toBe(platform);
    expect(platform.storage).toBeUndefined();
    expect(platform.page).toBeUndefined();
    expect(platform.createLane(1)).toBeInstanceOf(PriorityLane);
    expect(platform.newId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(platform.newId()).not.toBe(platform.newId());

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let ran = 0;
    platform.schedule(() => void ran++, 100);
    const cancel = platform.schedule(() => void (ran += 10), 100);
    cancel();
    vi.advanceTimersByTime(99);
    expect(ran).toBe(0);
    vi.advanceTimersByTime(1);
    expect(ran).toBe(1);

    const seen: unknown[] = [];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      seen.push([url, init.method]);
      return new Response(null, { status: 204 });
    });
    const response = await platform.createTransport({ maxSockets: 1 }).request({ method: 'GET', url: 'https://x.test/', headers: {}, timeoutMs: 1_000 });
    expect(response.status).toBe(204);
    expect(seen).toEqual([['https://x.test/', 'GET']]);
  });

  it('in a page: localStorage and the page lifecycle', async () => {
    vi.resetModules();
    fakeDom();
    const { browserPlatform } = await import('../../src/platform/browser/browser-platform');
    const platform = browserPlatform();
    expect(platform.storage).toBeDefined();
    expect(platform.page?.keepaliveBytes).toBe(61_440);
  });
});
