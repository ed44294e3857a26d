/**
 * Why `sendOdpEvent` did not accept an event, checked in this order:
 * - `optedOut`: the user opted out (`setOptOut(true)`, `optOut: true`, or the Global Privacy Control signal).
 * - `sdkNotReady`: no valid datafile is held yet (a warning is logged).
 * - `odpNotEnabled`: ODP is turned off in the client's options (`odp.disabled`).
 * - `odpNotIntegrated`: the datafile has no usable ODP integration (host and public key).
 * - `invalidIdentifiers`, `invalidType`, `invalidAction`, `invalidData`: bad input; the message names the field.
 * - `eventTooLarge`: the event's JSON is larger than `odp.maxEventBytes`.
 * - `closed`: `close()` was called.
 * - `queueFull`: `odp.queueSize` events are already waiting (queued, in flight or waiting for a retry).
 * - `filtered`: the `beforeSend` hook returned `null`.
 * - `beforeSendFailed`: the `beforeSend` hook threw, or returned something that is not a valid event.
 */
export type OdpErrorCode =
  | 'optedOut'
  | 'sdkNotReady'
  | 'odpNotEnabled'
  | 'odpNotIntegrated'
  | 'invalidIdentifiers'
  | 'invalidType'
  | 'invalidAction'
  | 'invalidData'
  | 'eventTooLarge'
  | 'closed'
  | 'queueFull'
  | 'filtered'
  | 'beforeSendFailed';

/**
 * Marks OdpErrors across copies of the SDK: a page or a process can load two (the ESM and the CJS
 * build, two bundles), and `instanceof` sees only its own copy's class. `Symbol.for` is shared by all.
 */
const BRAND = Symbol.for('odp-sdk.OdpError');

/** The error `sendOdpEvent` returns (never throws) when it discards an event. */
export class OdpError extends Error {
  /** A stable, machine-readable reason; see {@link OdpErrorCode}. */
  readonly code: OdpErrorCode;

  constructor(code: OdpErrorCode, message: string) {
    super(message);
    this.name = 'OdpError';
    this.code = code;
  }
}
(OdpError.prototype as unknown as Record<symbol, boolean>)[BRAND] = true;

/**
 * Whether `value` is an {@link OdpError}, from this copy of the SDK or another one (ESM and CJS
 * builds loaded side by side, two bundles on a page), where `instanceof` would say false.
 */
export function isOdpError(value: unknown): value is OdpError {
  // This copy's errors carry the brand too (on the prototype).
  return (value as Record<symbol, unknown> | null | undefined)?.[BRAND] === true;
}

/**
 * An OdpError without a stack trace. The SDK returns these, never throws them, so a stack into its
 * own internals helps nobody; capturing one costs V8 about 10 µs, which a caller refused in a loop
 * (queueFull under load) would pay every time.
 */
export function odpError(code: OdpErrorCode, message: string): OdpError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const error = new OdpError(code, message); // cannot throw: nothing to restore in a finally
  Error.stackTraceLimit = limit;
  return error;
}
