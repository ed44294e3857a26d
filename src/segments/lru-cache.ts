/**
 * A least-recently-used cache whose entries also expire `timeoutMs` after they were stored.
 * `maxSize` 0 turns caching off; `timeoutMs` 0 keeps entries until they are evicted.
 */
export class LruCache<V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, { value: V; storedAt: number }>();

  constructor(
    private readonly maxSize: number,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value, or undefined when absent or expired (an expired entry is removed). */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (this.timeoutMs > 0 && this.now() - entry.storedAt >= this.timeoutMs) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.maxSize <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, storedAt: this.now() });
    while (this.entries.size > this.maxSize) {
      const oldest = this.entries.keys().next().value as string; // size > maxSize >= 1, so a first key exists
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
