import { SDK_NAME, SDK_VERSION } from '../meta';
import type { OdpDataValue, OdpWireEvent } from '../types';
import { utf8Length } from '../core/values';
import { OdpError, odpError } from './odp-error';

const FS_USER_ID = 'fs_user_id';
/** Bytes of JSON around an event's own keys and values (field names, quotes, defaults). */
const FRAME_BYTES = 256;
/** JSON escaping and UTF-8 can grow a string at most sixfold (`\u0001` is six bytes). */
const WORST_GROWTH = 6;
/** A UUID's length: the id the caller assigns after validation counts in the size check. */
const ID_CHARS = 36;

// for...in walks the keys without allocating an array of them; only own keys count.
const hasOwn = Object.prototype.hasOwnProperty;

type Field = 'identifiers' | 'type' | 'action' | 'data';

/** The error for a bad field: its code (`invalidIdentifiers`, ...), and a message that starts with the field's name. */
function invalid(field: Field, problem: string): OdpError {
  return odpError(`invalid${(field[0]!.toUpperCase() + field.slice(1)) as Capitalize<Field>}`, field + problem);
}

/** `field must be what, got value`; `key` (`.name`) names an entry of the field. */
function mustBe(field: Field, what: string, value: unknown, key = ''): OdpError {
  return invalid(field, `${key} must be ${what}, got ${describe(value)}`);
}

/** What validation needs besides the input. */
export interface BuildContext {
  maxEventBytes: number;
  /** The visitor id every event carries as `identifiers.vuid` (unless it names one), or null. */
  vuid: string | null;
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
    const idInput = recordOf(field, raw.identifiers);
    if (idInput instanceof OdpError) return idInput;
    for (const rawKey in idInput) {
      if (!hasOwn.call(idInput, rawKey)) continue;
      if (rawKey === '' || rawKey === '__proto__') return badKey(field, rawKey);
      const value = idInput[rawKey];
      if (typeof value !== 'string') return mustBe(field, 'a string', value, '.' + rawKey);
      if (value === '') continue; // an empty identifier identifies nobody
      // `FS-USER-ID`, `FS_USER_ID`, `fs-user-id` and every other case become `fs_user_id`.
      const key = rawKey !== FS_USER_ID && rawKey.length === FS_USER_ID.length && rawKey.toLowerCase().replace(/-/g, '_') === FS_USER_ID ? FS_USER_ID : rawKey;
      // Only fs_user_id has several spellings, so only it can arrive twice (keys are unique).
      if (key === FS_USER_ID && identifiers[key] !== undefined && identifiers[key] !== value) {
        return invalid(field, `.${rawKey} conflicts with ${FS_USER_ID}`);
      }
      identifiers[key] = value;
      chars += key.length + value.length;
    }
    // Every value kept is non-empty, so no characters means no identifier.
    if (!chars) return invalid(field, ' empty');

    field = 'type';
    const type = raw.type;
    if (type != null && typeof type !== 'string') return mustBe(field, 'a string', type);

    field = 'action';
    const action = raw.action;
    if (typeof action !== 'string') return mustBe(field, 'a string', action);
    if (!action.trim()) return invalid(field, ' empty');

    field = 'data';
    const data: Record<string, OdpDataValue> = {
      idempotence_id: '',
      data_source_type: 'sdk',
      data_source: SDK_NAME,
      data_source_version: SDK_VERSION,
    };
    const dataInput = raw.data;
    if (dataInput != null) {
      const dataRecord = recordOf(field, dataInput);
      if (dataRecord instanceof OdpError) return dataRecord;
      for (const key in dataRecord) {
        if (!hasOwn.call(dataRecord, key)) continue;
        if (key === '' || key === '__proto__') return badKey(field, key);
        const value = dataRecord[key];
        if (typeof value === 'string') chars += value.length;
        // 24 characters hold any number's JSON, and true, false and null.
        else if (value === null || typeof value === 'boolean' || Number.isFinite(value)) chars += 24;
        else return mustBe(field, 'a string, finite number, boolean or null', value, '.' + key);
        chars += key.length;
        data[key] = value as OdpDataValue;
      }
    }

    if (ctx.vuid && identifiers.vuid === undefined) {
      identifiers.vuid = ctx.vuid;
      chars += 4 + ctx.vuid.length;
    }
    // Measured as it will be sent: the vuid and the defaults are in, the id is counted below.
    const event: OdpWireEvent = { type: type || 'fullstack', action, identifiers, data };
    chars += event.type.length + action.length + ID_CHARS;
    if (chars * WORST_GROWTH + FRAME_BYTES > ctx.maxEventBytes) {
      // Only events that could be too large pay for an exact measure.
      const bytes = utf8Length(JSON.stringify(event)) + (data.idempotence_id === '' ? ID_CHARS : 0);
      if (bytes > ctx.maxEventBytes) return odpError('eventTooLarge', `event of ${bytes} bytes exceeds maxEventBytes (${ctx.maxEventBytes})`);
    }
    return event;
  } catch (error) {
    let why = 'unknown error';
    try {
      why = error instanceof Error ? error.message : String(error);
    } catch {
      // An error whose message cannot be read either: the field is still named.
    }
    return invalid(field, ` unreadable: ${why}`);
  }
}

/**
 * A plain object as it is (its own enumerable keys are read one by one, so no copy is made on the
 * hot path), a Map as a new object of its entries; or the error when `input` is anything else
 * (class instances, Dates, arrays, ...) or a Map has a key that is not a string. A getter that
 * throws throws inside buildEvent's guard.
 */
function recordOf(field: Field, input: unknown): Record<string, unknown> | OdpError {
  if (input instanceof Map) {
    const out: Record<string, unknown> = Object.create(null);
    for (const [key, value] of input) {
      if (typeof key !== 'string') return badKey(field, key);
      out[key] = value;
    }
    return out;
  }
  // Arrays, Dates and class instances have another prototype.
  const proto: unknown = input == null ? undefined : Object.getPrototypeOf(input);
  return proto === Object.prototype || proto === null ? (input as Record<string, unknown>) : mustBe(field, 'an object', input);
}

/** A key that is not a non-empty string, or is `__proto__` (it would set the prototype). */
function badKey(field: Field, key: unknown): OdpError {
  return invalid(field, ` has an invalid key ${describe(key)}`);
}

function describe(value: unknown): string {
  const type = typeof value;
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (type === 'number' || type === 'boolean' || type === 'bigint') return `${type} ${value as number}`;
  if (type !== 'object') return type === 'undefined' ? type : `a ${type}`; // a symbol, a function
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : value instanceof Map ? 'a Map' : value instanceof Date ? 'a Date' : 'an object';
}

/**
 * Gives every event without one its `idempotence_id`, once: a retry, a split half or a stored copy
 * keeps the id it got. Called just before a batch is first serialised or stored.
 */
export function assignIds(events: readonly OdpWireEvent[], newId: () => string): void {
  for (const event of events) if (event.data.idempotence_id === '') event.data.idempotence_id = newId();
}
