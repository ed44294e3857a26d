import { randomUUID } from 'node:crypto';
import { timerDelay } from '../../core/values';
import type { ClientHandle, Platform } from '../platform';
import { createHttpTransport } from './http-transport';

/** Node: `node:http` keep-alive transport, timers that never hold the process open, and the process's end. */
export const nodePlatform: Platform = {
  createTransport: createHttpTransport,
  schedule(fn, ms) {
    const timer = setTimeout(fn, timerDelay(ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
  // Node always has randomUUID (the browser platform's getRandomValues fallback is for insecure pages).
  newId: () => randomUUID(),
  holdOpen() {
    const keeper = setInterval(() => {}, 1 << 30);
    return () => clearInterval(keeper);
  },
  keepaliveBytes: 0,
  attach(client) {
    clients.set(client, { draining: false, gaveUp: false });
    if (clients.size === 1) {
      process.on('beforeExit', deliverBeforeExit);
      process.on('exit', warnAtExit);
    }
    return {
      settings() {},
      queueChanged() {},
      detach() {
        clients.delete(client);
        if (clients.size === 0) {
          process.off('beforeExit', deliverBeforeExit);
          process.off('exit', warnAtExit);
        }
      },
    };
  },
};

/** Open clients, and whether each is delivering on `beforeExit` or gave up on it once. */
const clients = new Map<ClientHandle, { draining: boolean; gaveUp: boolean }>();

/**
 * The event loop ran dry with events still held (a script that ends without `close()`): deliver
 * them, keeping the process alive up to `closeTimeoutMs`. Once a drain ran out of time, a later
 * `beforeExit` lets the process go (the `exit` warning names what is left) instead of looping.
 */
function deliverBeforeExit(): void {
  for (const [client, state] of clients) {
    if (state.draining || state.gaveUp || client.undelivered() === 0) continue;
    state.draining = true;
    void drain(client, client.closeTimeoutMs).then(() => {
      state.draining = false;
      state.gaveUp = client.undelivered() > 0;
    });
  }
}

/**
 * Waits until what the client holds now is delivered or dropped, or `timeoutMs` passed (the events
 * are kept then), holding the process open meanwhile. Node's alone: it lives here, not in the
 * client that the script-tag bundle ships.
 */
async function drain(client: ClientHandle, timeoutMs: number): Promise<void> {
  client.cutBatch();
  const release = nodePlatform.holdOpen!();
  let cancel: (() => void) | undefined;
  await Promise.race([client.dispatcher.flush(), new Promise<void>((resolve) => (cancel = nodePlatform.schedule(resolve, timeoutMs)))]);
  cancel?.();
  release();
}

/** `process.exit()` or a drain out of time: say what is lost, once, with the count (and what was refused). */
function warnAtExit(): void {
  for (const client of clients.keys()) {
    client.summarise();
    const count = client.undelivered();
    if (count) {
      client.logger.warn(`${count} events were not delivered: the process exited first (await client.close() before process.exit(); on SIGTERM, close the client in your handler)`);
    }
  }
}
