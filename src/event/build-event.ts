import { SDK_NAME, SDK_VERSION } from '../meta';
import type { OdpDataValue, OdpWireEvent } from '../types';
import { utf8Length } from '../core/values';
import { odpError, OdpError, type OdpErrorCode } from './odp-error';

const DEFAULT_TYPE = 'fullstack';
const FS_USER_ID = 'fs_user_id';
/** Bytes of JSON around an event's own keys and values (field names, quotes, defaults). */
const FRAME_BYTES = 256;
/** JSON escaping and UTF-8 can grow a string at most sixfold (`\u0001` is six bytes). */
const WORST_GROWTH = 6;

type Field = 'identifiers' | 'type' | 'action' | 'data';
const CODES: Record<Field, OdpErrorCode> = { identifiers: 'invalidIdentifiers', type: 'invalidType', action: 'invalidAction', data: 'invalidData' };

/** The error for a bad field: its code, and a message that starts with the field's name. */
function invalid(field: Field, problem: string): OdpError {
  return odpError(CODES[field], field + problem);
}

/** What validation needs besides the input. */
export interface BuildContext {
  maxEventBytes: number;
  /** The visitor id every event carries as `identifiers.vuid` (unless it names one), or null. */
  vuid: string | null;
}

/** A UUID's length: the id the caller assigns after validation counts in the size check. */
const ID_CHARS = 36;

/** The parts of an event, as given in either call form. */
export interface RawEvent {
  type: unknown;
  action: unknown;
  identifiers: unknown;
  data: unknown;
}


/**
 * Validates one event and builds its wire form with the default data, or returns the
 * {@link OdpError} that says which field is wrong. Never throws: a hostile getter or
 * proxy is reported against the field being read. `data.idempotence_id` is left empty unless
 * the caller gave one: {@link assignIds} fills it as late as possible (when the batch is first
 * serialised or stored), so neither refusals nor the caller's call pay for an id.
 */
export function buildEvent(raw: RawEvent, ctx: BuildContext): OdpWireEvent | OdpError {
  let field: Field = 'identifiers';
  try {
    // Characters of keys and values: a cheap bound that spares most events an exact measure.
    let chars = 0;
    const identifiers: Record<string, string> = {};
    const input = raw.identifiers;
    const entries = entriesOf(input);
    if (!entries) {
      return invalid(field, input === undefined || input === null ? ' are required, e.g. { fs_user_id: "user123" }' : ` must be an object of strings, got ${describe(input)}`);
    }
    let count = 0;
    let userIdKey: string | undefined;
    for (let i = 0; i < entries.length; i += 2) {
      const rawKey = checkKey(field, entries[i]);
      if (typeof rawKey !== 'string') return rawKey;
      const value = entries[i + 1];
      if (typeof value !== 'string') return invalid(field, `.${rawKey} must be a string, got ${describe(value)}`);
      if (value === '') continue; // an empty identifier identifies nobody
      const key = normaliseIdentifierKey(rawKey);
      if (key === FS_USER_ID) {
        // Only fs_user_id has several spellings, so only it can arrive twice.
        if (userIdKey !== undefined) {
          if (identifiers.fs_user_id === value) continue;
          return invalid(field, `.${rawKey} conflicts with another spelling of ${FS_USER_ID}`);
        }
        userIdKey = rawKey;
      }
      count++;
      identifiers[key] = value;
      chars += key.length + value.length;
    }
    if (count === 0) return invalid(field, ' need at least one non-empty value');

    field = 'type';
    const type = raw.type;
    if (type !== undefined && type !== null && typeof type !== 'string') {
      return invalid(field, ` must be a string, got ${describe(type)}`);
    }

    field = 'action';
    const action = raw.action;
    if (typeof action !== 'string') {
      return invalid(field, action === undefined || action === null ? ' is required' : ` must be a string, got ${describe(action)}`);
    }
    if (action.trim() === '') return invalid(field, ' must not be empty');

    field = 'data';
    const data: Record<string, OdpDataValue> = {
      idempotence_id: '',
      data_source_type: 'sdk',
      data_source: SDK_NAME,
      data_source_version: SDK_VERSION,
    };
    const dataInput = raw.data;
    if (dataInput !== undefined && dataInput !== null) {
      const pairs = entriesOf(dataInput);
      if (!pairs) return invalid(field, ` must be an object, got ${describe(dataInput)}`);
      for (let i = 0; i < pairs.length; i += 2) {
        const key = checkKey(field, pairs[i]);
        if (typeof key !== 'string') return key;
        const value = pairs[i + 1];
        switch (typeof value) {
          case 'string':
            chars += value.length;
            break;
          case 'number':
            if (!Number.isFinite(value)) return invalid(field, `.${key} must be a finite number, got ${value}`);
            chars += 24;
            break;
          case 'boolean':
            chars += 5;
            break;
          default:
            if (value !== null) return invalid(field, `.${key} must be a string, number, boolean or null, got ${describe(value)}`);
            chars += 4;
        }
        chars += key.length;
        data[key] = value as OdpDataValue;
      }
    }

    if (ctx.vuid && identifiers.vuid === undefined) {
      identifiers.vuid = ctx.vuid;
      chars += 4 + ctx.vuid.length;
    }
    // Measured as it will be sent: the vuid and the defaults are in, the id is counted below.
    const event: OdpWireEvent = { type: type || DEFAULT_TYPE, action, identifiers, data };
    chars += event.type.length + action.length + ID_CHARS;
    if (chars * WORST_GROWTH + FRAME_BYTES > ctx.maxEventBytes) {
      // Only events that could be too large pay for an exact measure.
      const bytes = utf8Length(JSON.stringify(event)) + (data.idempotence_id === '' ? ID_CHARS : 0);
      if (bytes > ctx.maxEventBytes) {
        return odpError('eventTooLarge', `event is ${bytes} bytes of JSON, more than maxEventBytes (${ctx.maxEventBytes})`);
      }
    }
    return event;
  } catch (error) {
    return invalid(field, ` could not be read: ${errorMessage(error)}`);
  }
}

/** `FS-USER-ID`, `FS_USER_ID`, `fs-user-id` and every other case become `fs_user_id`. */
function normaliseIdentifierKey(key: string): string {
  if (key.length !== FS_USER_ID.length || key === FS_USER_ID) return key;
  return key.toLowerCase().replace(/-/g, '_') === FS_USER_ID ? FS_USER_ID : key;
}

/** Keys must be non-empty strings, and never `__proto__` (it would set the prototype). */
function checkKey(field: Field, key: unknown): string | OdpError {
  if (typeof key !== 'string' || key === '') return invalid(field, ` has an invalid key ${describe(key)}`);
  return key === '__proto__' ? invalid(field, ' must not have the key "__proto__"') : key;
}

/**
 * The entries of a plain object (own enumerable keys, read by key) or of a Map, as one flat
 * array of keys and values: no array per entry, no callback per event on the hot path. Null for
 * anything else (class instances, Dates, arrays, ...). A getter that throws throws here, inside
 * buildEvent's guard.
 */
function entriesOf(input: unknown): unknown[] | null {
  if (input instanceof Map) {
    const out: unknown[] = [];
    for (const [key, value] of input) out.push(key, value);
    return out;
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  const proto: unknown = Object.getPrototypeOf(input);
  if (proto !== Object.prototype && proto !== null) return null;
  const object = input as Record<string, unknown>;
  const keys = Object.keys(object);
  const out = new Array<unknown>(keys.length * 2);
  for (let i = 0; i < keys.length; i++) {
    out[2 * i] = keys[i];
    out[2 * i + 1] = object[keys[i]!];
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'a Map';
  if (value instanceof Date) return 'a Date';
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return 'an object';
  }
}

function errorMessage(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'unknown error';
  }
}

/**
 * Gives every event without one its `idempotence_id`, once: a retry, a split half or a stored copy
 * keeps the id it got. Called just before a batch is first serialised or stored.
 */
export function assignIds(events: readonly OdpWireEvent[], newId: () => string): void {
  for (const event of events) if (event.data.idempotence_id === '') event.data.idempotence_id = newId();
}
