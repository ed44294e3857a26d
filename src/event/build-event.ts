import { SDK_NAME, SDK_VERSION } from '../meta';
import type { OdpDataValue, OdpWireEvent } from '../types';
import { OdpError } from './odp-error';

const DEFAULT_TYPE = 'fullstack';
const FS_USER_ID = 'fs_user_id';
/** Bytes of JSON around an event's own keys and values (field names, quotes, defaults). */
const FRAME_BYTES = 256;
/** JSON escaping and UTF-8 can grow a string at most sixfold (`\u0001` is six bytes). */
const WORST_GROWTH = 6;

/** What validation needs besides the input. */
export interface BuildContext {
  newId: () => string;
  maxEventBytes: number;
}

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
 * proxy is reported against the field being read.
 */
export function buildEvent(raw: RawEvent, ctx: BuildContext): OdpWireEvent | OdpError {
  let field: 'identifiers' | 'type' | 'action' | 'data' = 'identifiers';
  try {
    const size = { chars: 0 };
    const identifiers = readIdentifiers(raw.identifiers, size);
    if (identifiers instanceof OdpError) return identifiers;

    field = 'type';
    const type = raw.type;
    if (type !== undefined && type !== null && typeof type !== 'string') {
      return new OdpError('invalidType', `type must be a string, got ${describe(type)}`);
    }

    field = 'action';
    const action = raw.action;
    if (typeof action !== 'string') {
      return new OdpError('invalidAction', action === undefined || action === null
        ? 'action is required'
        : `action must be a string, got ${describe(action)}`);
    }
    if (action.trim() === '') return new OdpError('invalidAction', 'action must not be empty');

    field = 'data';
    const data: Record<string, OdpDataValue> = {
      idempotence_id: '',
      data_source_type: 'sdk',
      data_source: SDK_NAME,
      data_source_version: SDK_VERSION,
    };
    const error = readData(raw.data, data, size);
    if (error) return error;
    if (data.idempotence_id === '') data.idempotence_id = flatten(ctx.newId());

    const event: OdpWireEvent = { type: type || DEFAULT_TYPE, action, identifiers, data };
    size.chars += event.type.length + action.length;
    if (size.chars * WORST_GROWTH + FRAME_BYTES > ctx.maxEventBytes) {
      // Only events that could be too large pay for an exact measure.
      const bytes = utf8Length(JSON.stringify(event));
      if (bytes > ctx.maxEventBytes) {
        return new OdpError('eventTooLarge', `event is ${bytes} bytes of JSON, more than maxEventBytes (${ctx.maxEventBytes})`);
      }
    }
    return event;
  } catch (error) {
    const code = field === 'identifiers' ? 'invalidIdentifiers' : field === 'type' ? 'invalidType'
      : field === 'action' ? 'invalidAction' : 'invalidData';
    return new OdpError(code, `${field} could not be read: ${errorMessage(error)}`);
  }
}

function readIdentifiers(input: unknown, size: { chars: number }): Record<string, string> | OdpError {
  const keys = input instanceof Map ? undefined : plainKeys(input);
  if (keys === null) {
    return new OdpError('invalidIdentifiers', input === undefined || input === null
      ? 'identifiers are required: an object such as { fs_user_id: "user123" }'
      : `identifiers must be an object of strings, got ${describe(input)}`);
  }
  const ids: IdentifierState = { out: {}, count: 0, seenUserId: false };
  if (keys === undefined) {
    for (const [rawKey, value] of input as Map<unknown, unknown>) {
      const error = addIdentifier(ids, rawKey, value, size);
      if (error) return error;
    }
  } else {
    const object = input as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) {
      const error = addIdentifier(ids, keys[i], object[keys[i]], size);
      if (error) return error;
    }
  }
  const out = ids.out;
  if (ids.count === 0) {
    return new OdpError('invalidIdentifiers', 'identifiers must have at least one non-empty value, e.g. { fs_user_id: "user123" }');
  }
  return out;
}

interface IdentifierState {
  out: Record<string, string>;
  count: number;
  seenUserId: boolean;
}

function addIdentifier(ids: IdentifierState, rawKey: unknown, value: unknown, size: { chars: number }): OdpError | undefined {
  if (typeof rawKey !== 'string' || rawKey === '') {
    return new OdpError('invalidIdentifiers', `identifiers has an invalid key ${describe(rawKey)}`);
  }
  if (rawKey === '__proto__') return new OdpError('invalidIdentifiers', 'identifiers must not have the key "__proto__"');
  if (typeof value !== 'string') {
    return new OdpError('invalidIdentifiers', `identifiers.${rawKey} must be a string, got ${describe(value)}`);
  }
  if (value === '') return undefined; // an empty identifier identifies nobody
  const key = normaliseIdentifierKey(rawKey);
  if (key === FS_USER_ID) {
    if (ids.seenUserId) {
      // Only fs_user_id has several spellings, so only it can arrive twice.
      return ids.out.fs_user_id === value
        ? undefined
        : new OdpError('invalidIdentifiers', `identifiers.${rawKey} conflicts with another spelling of ${FS_USER_ID}`);
    }
    ids.seenUserId = true;
  }
  ids.count++;
  ids.out[key] = value;
  size.chars += key.length + value.length;
  return undefined;
}

/** `FS-USER-ID`, `FS_USER_ID`, `fs-user-id` and every other case become `fs_user_id`. */
function normaliseIdentifierKey(key: string): string {
  if (key.length !== FS_USER_ID.length || key === FS_USER_ID) return key;
  return key.toLowerCase().replace(/-/g, '_') === FS_USER_ID ? FS_USER_ID : key;
}

function readData(input: unknown, out: Record<string, OdpDataValue>, size: { chars: number }): OdpError | undefined {
  if (input === undefined || input === null) return undefined;
  const keys = input instanceof Map ? undefined : plainKeys(input);
  if (keys === null) return new OdpError('invalidData', `data must be an object, got ${describe(input)}`);
  if (keys === undefined) {
    for (const [key, value] of input as Map<unknown, unknown>) {
      const error = addData(out, key, value, size);
      if (error) return error;
    }
  } else {
    const object = input as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) {
      const error = addData(out, keys[i], object[keys[i]], size);
      if (error) return error;
    }
  }
  return undefined;
}

function addData(out: Record<string, OdpDataValue>, key: unknown, value: unknown, size: { chars: number }): OdpError | undefined {
  if (typeof key !== 'string' || key === '') return new OdpError('invalidData', `data has an invalid key ${describe(key)}`);
  if (key === '__proto__') return new OdpError('invalidData', 'data must not have the key "__proto__"');
  switch (typeof value) {
    case 'string':
      size.chars += value.length;
      break;
    case 'number':
      if (!Number.isFinite(value)) return new OdpError('invalidData', `data.${key} must be a finite number, got ${value}`);
      size.chars += 24;
      break;
    case 'boolean':
      size.chars += 5;
      break;
    default:
      if (value !== null) {
        return new OdpError('invalidData', `data.${key} must be a string, number, boolean or null, got ${describe(value)}`);
      }
      size.chars += 4;
  }
  size.chars += key.length;
  out[key] = value as OdpDataValue;
  return undefined;
}

/**
 * A plain object's own enumerable keys; null for anything else (a Map is read by the caller).
 * Keys, not Object.entries: the hot path reads values by key instead of allocating an array per entry.
 */
function plainKeys(input: unknown): string[] | null {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  const proto: unknown = Object.getPrototypeOf(input);
  if (proto !== Object.prototype && proto !== null) return null; // class instances, Dates, RegExps, ...
  return Object.keys(input);
}

/**
 * Returns the id as one flat string. `crypto.randomUUID()` builds it by concatenation, a rope of
 * about 20 pieces (~500 bytes) that a queued event would hold until it is serialised; reading a
 * character makes V8 flatten it into one 36-byte string now, at a cost JSON.stringify pays anyway.
 */
function flatten(id: string): string {
  id.charCodeAt(0);
  return id;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'a Map';
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

/** UTF-8 byte length without allocating an encoded copy. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code <= 0xdbff && code >= 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 4 bytes for 2 UTF-16 units
      i++;
    } else bytes += 2; // the rest of the BMP, and a lone surrogate (sent as U+FFFD): 3 bytes
  }
  return bytes;
}
