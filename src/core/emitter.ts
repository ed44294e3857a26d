/**
 * A tiny typed event emitter; a listener that throws is isolated from the others and from the SDK,
 * and its error goes to `onError` (the client logs it).
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  constructor(private readonly onError: (name: keyof Events, error: unknown) => void = () => {}) {}

  on<K extends keyof Events>(name: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: (payload: Events[K]) => void): void {
    this.listeners.get(name)?.delete(listener);
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    const set = this.listeners.get(name);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (error) {
        // Listeners are user code: their errors never reach the SDK or the other listeners, but are told.
        try {
          this.onError(name, error);
        } catch {
          // A hostile error (a throwing getter) is not worth a crash either.
        }
      }
    }
  }
}
