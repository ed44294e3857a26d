/**
 * A tiny typed event emitter; a listener that throws is isolated from the others and from the SDK,
 * and its error goes to `onError` (the client logs it).
 */
export class Emitter<Events extends object> {
  private readonly handlers: { [K in keyof Events]?: Set<(payload: Events[K]) => void> } = {};

  constructor(private readonly onError: (name: keyof Events, error: unknown) => void = () => {}) {}

  /** Returns the function that unsubscribes `listener`. */
  on<K extends keyof Events>(name: K, listener: (payload: Events[K]) => void): () => void {
    const set = (this.handlers[name] ??= new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    for (const listener of this.handlers[name] ?? []) {
      try {
        listener(payload);
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
