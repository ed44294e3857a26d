import type { SafeLogger } from '../core/logger';
import type { Dispatcher } from '../dispatcher/dispatcher';
import type { Platform } from '../platform/platform';
import type { OdpWireEvent } from '../types';

/** What handing a batch over to the host needs of the client. */
export interface HandOverContext {
  readonly dispatcher: Dispatcher;
  readonly logger: SafeLogger;
  readonly schedule: Platform['schedule'];
}

/**
 * Serverless hosts' `waitUntil` (the runtime and Node builds pass it to the client; browsers have
 * no use for it): gives the host a batch's promise that settles by `timeoutMs`. The host would
 * cancel the work silently about 30 s after the response, so what is undelivered at the deadline
 * is dropped (counted and reported) while the host still runs.
 */
export function handOver(
  context: HandOverContext,
  waitUntil: (promise: Promise<unknown>) => void,
  delivered: Promise<void>,
  events: readonly OdpWireEvent[],
  timeoutMs: number,
): void {
  const cancel = context.schedule(() => {
    context.dispatcher.expire(events, 'waitUntilTimeout', `not delivered within waitUntilTimeoutMs (${timeoutMs} ms)`);
  }, timeoutMs);
  try {
    waitUntil(delivered.finally(cancel));
  } catch (error) {
    // An unbound `ctx.waitUntil` throws "Illegal invocation"; the host's mistake must not become its crash.
    context.logger.error(`waitUntil threw (bind it to its ctx): ${String(error)}`);
  }
}

export type HandOver = typeof handOver;
