import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/segments/lru-cache';

describe('LruCache', () => {
  it('evicts the least recently used beyond maxSize; a get counts as use', () => {
    const cache = new LruCache<number>(2, 0, () => 0);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size).toBe(2);
  });

  it('setting a key again refreshes it', () => {
    const cache = new LruCache<number>(2, 0, () => 0);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 10);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(10);
    expect(cache.get('b')).toBeUndefined();
  });

  it('entries expire timeoutMs after they were stored (fake now); an expired entry is removed', () => {
    let now = 1_000;
    const cache = new LruCache<string>(10, 100, () => now);
    cache.set('k', 'v');
    now = 1_099;
    expect(cache.get('k')).toBe('v');
    now = 1_100;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set('k', 'w');
    now = 1_150;
    expect(cache.get('k')).toBe('w');
  });

  it('timeoutMs 0 keeps entries; maxSize 0 stores nothing; clear empties', () => {
    let now = 0;
    const forever = new LruCache<number>(1, 0, () => now);
    forever.set('k', 1);
    now = 1e12;
    expect(forever.get('k')).toBe(1);
    const off = new LruCache<number>(0, 0);
    off.set('k', 1);
    expect(off.size).toBe(0);
    expect(off.get('k')).toBeUndefined();
    forever.clear();
    expect(forever.size).toBe(0);
  });

  it('uses Date.now by default', () => {
    const cache = new LruCache<number>(1, 60_000);
    cache.set('k', 1);
    expect(cache.get('k')).toBe(1);
  });
});
