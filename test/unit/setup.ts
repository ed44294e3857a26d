import net from 'node:net';
import { afterEach, vi } from 'vitest';

// The unit tier opens no sockets: any attempt (node:http, fetch, net) throws instead.
const refuse = (): never => {
  throw new Error('the unit tier opens no sockets: use the fake transport (test/unit/harness.ts)');
};
vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(refuse);
vi.stubGlobal('fetch', refuse);

// Tests may fix Math.random (backoff jitter) and fake Date; neither leaks into the next test.
const random = Math.random;
afterEach(() => {
  Math.random = random;
  vi.useRealTimers();
  // Page globals (FakePage) go; the socket guard stays.
  vi.unstubAllGlobals();
  vi.stubGlobal('fetch', refuse);
});
