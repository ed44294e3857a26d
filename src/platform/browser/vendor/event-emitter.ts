/**
 * Stands in for `eventemitter3` in the browser bundles (rollup.config.mjs aliases it): p-queue
 * only needs `on`, `off` and `emit` from its base class, and this SDK listens to none of its
 * events. Saves about 0.8 KB gzipped.
 */
type Listener = (...args: unknown[]) => void;

export class EventEmitter {
  private listeners_: Record<string, Listener[]> = {};

  on(name: string, listener: Listener): this {
    (this.listeners_[name] ??= []).push(listener);
    return this;
  }

  off(name: string, listener: Listener): this {
    const list = this.listeners_[name];
    if (list?.includes(listener)) list.splice(list.indexOf(listener), 1);
    return this;
  }

  emit(name: string, ...args: unknown[]): boolean {
    const list = this.listeners_[name];
    for (const listener of list ? [...list] : []) listener.apply(this, args);
    return !!list?.length;
  }
}
