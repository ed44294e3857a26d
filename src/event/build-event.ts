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

type Entries = Array<[string, unknown]> | Map<unknown, unknown>;

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
    if (data.idempotence_id === '') data.idempotence_id = ctx.newId();

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
  const entries = entriesOf(input);
  if (!entries) {
    return new OdpError('invalidIdentifiers', input === undefined || input === null
      ? 'identifiers are required: an object such as { fs_user_id: "user123" }'
      : `identifiers must be an object of strings, got ${describe(input)}`);
  }
  const out: Record<string, string> = {};
  let count = 0;
  let seenUserId = false;
  for (const [rawKey, value] of entries) {
    if (typeof rawKey !== 'string' || rawKey === '') {
      return new OdpError('invalidIdentifiers', `identifiers has an invalid key ${describe(rawKey)}`);
    }
    if (rawKey === '__proto__') return new OdpError('invalidIdentifiers', 'identifiers must not have the key "__proto__"');
    if (typeof value !== 'string') {
      return new OdpError('invalidIdentifiers', `identifiers.${rawKey} must be a string, got ${describe(value)}`);
    }
    if (value === '') continue; // an empty identifier identifies nobody
    const key = normaliseIdentifierKey(rawKey);
    if (key === FS_USER_ID && seenUserId) {
      // Only fs_user_id has several spellings, so only it can arrive twice.
      if (out.fs_user_id !== value) {
        return new OdpError('invalidIdentifiers', `identifiers.${rawKey} conflicts with another spelling of ${FS_USER_ID}`);
      }
      continue;
    }
    if (key === FS_USER_ID) seenUserId = true;
    count++;
    out[key] = value;
    size.chars += key.length + value.length;
  }
  if (count === 0) {
    return new OdpError('invalidIdentifiers', 'identifiers must have at least one non-empty value, e.g. { fs_user_id: "user123" }');
  }
  return out;
}

/** `FS-USER-ID`, `FS_USER_ID`, `fs-user-id` and every other case become `fs_user_id`. */
function normaliseIdentifierKey(key: string): string {
  if (key.length !== FS_USER_ID.length || key === FS_USER_ID) return key;
  return key.toLowerCase().replace(/-/g, '_') === FS_USER_ID ? FS_USER_ID : key;
}

function readData(input: unknown, out: Record<string, OdpDataValue>, size: { chars: number }): OdpError | undefined {
  if (input === undefined || input === null) return undefined;
  const entries = entriesOf(input);
  if (!entries) return new OdpError('invalidData', `data must be an object, got ${describe(input)}`);
  for (const [key, value] of entries) {
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
  }
  return undefined;
}

/** Own enumerable entries of a plain object, or a Map's entries; null for anything else. */
function entriesOf(input: unknown): Entries | null {
  if (typeof input !== 'object' || input === null) return null;
  if (input instanceof Map) return input;
  if (Array.isArray(input)) return null;
  const proto: unknown = Object.getPrototypeOf(input);
  if (proto !== Object.prototype && proto !== null) return null; // class instances, Dates, RegExps, ...
  return Object.entries(input);
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
    else if (code >= 0xd800 && code <= 0xdbff) i++; // a surrogate pair: 4 bytes for 2 UTF-16 units
    else bytes += 2;
  }
  return bytes;
}
