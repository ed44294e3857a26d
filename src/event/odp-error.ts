/**
 * Why `sendOdpEvent` did not accept an event, checked in this order:
 * - `optedOut`: the user opted out (`setOptOut(true)`, `optOut: true`, or the Global Privacy Control signal).
 * - `sdkNotReady`: no valid datafile is held yet (a warning is logged).
 * - `odpNotEnabled`: ODP is turned off in the client's options (`odp.disabled`).
 * - `odpNotIntegrated`: the datafile has no usable ODP integration (host and public key).
 * - `invalidIdentifiers`, `invalidType`, `invalidAction`, `invalidData`: bad input; the message names the field.
 * - `eventTooLarge`: the event's JSON is larger than `odp.maxEventBytes`.
 * - `filtered`: the `beforeSend` hook returned `null`.
 * - `beforeSendFailed`: the `beforeSend` hook threw, or returned something that is not a valid event.
 * - `queueFull`: `odp.queueSize` events are already waiting (queued, in flight or waiting for a retry).
 * - `closed`: `close()` was called.
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
  | 'filtered'
  | 'beforeSendFailed'
  | 'queueFull'
  | 'closed';

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

/**
 * An OdpError without a stack trace. The SDK returns these, never throws them, so a stack into its
 * own internals helps nobody; capturing one costs V8 about 10 µs, which a caller refused in a loop
 * (queueFull under load) would pay every time.
 */
export function odpError(code: OdpErrorCode, message: string): OdpError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new OdpError(code, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}
