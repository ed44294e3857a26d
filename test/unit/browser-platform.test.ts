import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLocalStorage } from '../../src/platform/browser/local-storage';
import { randomUuid } from '../../src/platform/browser/random-uuid';
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
    expect(storage.keys()).toEqual(['k']);
    storage.remove('k');
    expect(local.getItem('k')).toBeNull();
    local.broken = true;
    expect(storage.keys()).toEqual([]);
    expect(storage.get('k')).toBeNull();
    expect(storage.set('k', 'v')).toBe(false);
    expect(() => storage.remove('k')).not.toThrow();
  });
});

describe('browserPlatform', () => {
  it('outside a page: no storage and no page; a fetch transport, a PriorityLane, setTimeout timers, UUID v4 ids; made once', async () => {
    vi.resetModules();
    const { browserPlatform } = await import('../../src/platform/browser/browser-platform');
    const platform = browserPlatform();
    expect(browserPlatform()).toBe(platform);
    expect(platform.storage).toBeUndefined();
    expect(platform.keepaliveBytes).toBe(61_440);
    expect(platform.holdOpen).toBeUndefined();
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
    platform.schedule(() => void (ran += 100), 2 ** 40); // clamped: not at once
    platform.schedule(() => void (ran += 1_000), -5); // at once
    vi.advanceTimersByTime(0);
    expect(ran).toBe(1_001);
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(ran).toBe(1_101);

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
    platform.storage!.set('k', 'v');
    expect(platform.storage!.keys()).toEqual(['k']);
    expect(platform.keepaliveBytes).toBe(61_440);
    expect(typeof platform.attach).toBe('function');
  });
});

describe('randomUuid', () => {
  const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('crypto.randomUUID where there is one', () => {
    vi.stubGlobal('crypto', { randomUUID: () => 'from-randomUUID', getRandomValues: () => {
      throw new Error('not used');
    } });
    expect(randomUuid()).toBe('from-randomUUID');
  });

  it('an insecure page (no randomUUID): getRandomValues formatted as version 4, variant 10', () => {
    for (const fill of [0x00, 0xff, 0xa5]) {
      vi.stubGlobal('crypto', { getRandomValues: (bytes: Uint8Array) => bytes.fill(fill) });
      const id = randomUuid();
      expect(id).toMatch(V4);
      expect(id.replace(/-/g, '')).toHaveLength(32);
    }
    vi.stubGlobal('crypto', { getRandomValues: (bytes: Uint8Array) => bytes.fill(0xff) });
    expect(randomUuid()).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    vi.stubGlobal('crypto', { getRandomValues: (bytes: Uint8Array) => bytes.fill(0) });
    expect(randomUuid()).toBe('00000000-0000-4000-8000-000000000000');
    // Each digit from its own random value: 0, 1, 2, … in order, the variant digit from the 16th (15 → b).
    vi.stubGlobal('crypto', { getRandomValues: (bytes: Uint8Array) => bytes.map((_, i) => i) });
    expect(randomUuid()).toBe('01234567-89ab-4cde-b012-3456789abcde');
  });
});
