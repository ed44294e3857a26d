import { describe, expect, it } from 'vitest';
import { assignIds, buildEvent, type RawEvent } from '../../src/event/build-event';
import { OdpError } from '../../src/event/odp-error';
import { SDK_NAME, SDK_VERSION } from '../../src/meta';
import type { OdpWireEvent } from '../../src/types';

const ctx = { maxEventBytes: 32_768, vuid: null };

function build(raw: Partial<RawEvent>, maxEventBytes = ctx.maxEventBytes): OdpWireEvent | OdpError {
  return buildEvent({ type: undefined, action: 'purchased', identifiers: { fs_user_id: 'u1' }, data: undefined, ...raw }, { maxEventBytes, vuid: null });
}

function ok(raw: Partial<RawEvent>, maxEventBytes?: number): OdpWireEvent {
  const result = build(raw, maxEventBytes);
  if (result instanceof OdpError) throw new Error(`expected an event, got ${result.code}: ${result.message}`);
  return result;
}

function refused(raw: Partial<RawEvent>, maxEventBytes?: number): { code: string; message: string } {
  const result = build(raw, maxEventBytes);
  if (!(result instanceof OdpError)) throw new Error(`expected an OdpError, got ${JSON.stringify(result)}`);
  return { code: result.code, message: result.message };
}

describe('buildEvent: the wire event', () => {
  it('defaults: type fullstack, the SDK as data source, an empty idempotence id for the client to fill', () => {
    expect(ok({})).toEqual({
      type: 'fullstack',
      action: 'purchased',
      identifiers: { fs_user_id: 'u1' },
      data: { idempotence_id: '', data_source_type: 'sdk', data_source: SDK_NAME, data_source_version: SDK_VERSION },
    });
    expect(Object.keys(ok({}).data)).toEqual(['idempotence_id', 'data_source_type', 'data_source', 'data_source_version']);
  });

  it('a given type is kept; null, undefined and "" mean fullstack', () => {
    expect(ok({ type: 'custom' }).type).toBe('custom');
    expect(ok({ type: null }).type).toBe('fullstack');
    expect(ok({ type: '' }).type).toBe('fullstack');
  });

  it('data keys named like a default override it; other values of every allowed kind are kept', () => {
    const event = ok({ data: { idempotence_id: 'mine', data_source: 'app', s: 'x', n: 1.5, z: 0, b: false, t: true, nul: null } });
    expect(event.data).toEqual({
      idempotence_id: 'mine',
      data_source_type: 'sdk',
      data_source: 'app',
      data_source_version: SDK_VERSION,
      s: 'x',
      n: 1.5,
      z: 0,
      b: false,
      t: true,
      nul: null,
    });
  });

  it('data and identifiers may be Maps or null-prototype objects', () => {
    const ids = Object.assign(Object.create(null) as Record<string, string>, { email: 'a@b.c' });
    const event = ok({ identifiers: new Map([['fs_user_id', 'm1']]), data: new Map<string, unknown>([['k', 2]]) });
    expect(event.identifiers).toEqual({ fs_user_id: 'm1' });
    expect(event.data.k).toBe(2);
    expect(ok({ identifiers: ids }).identifiers).toEqual({ email: 'a@b.c' });
    expect(ok({ data: null }).data.data_source_type).toBe('sdk');
  });

  it('only own keys are read: an enumerable property added to Object.prototype is not an identifier or data', () => {
    Object.defineProperty(Object.prototype, 'polluted', { value: 'x', enumerable: true, configurable: true, writable: true });
    try {
      const event = ok({ identifiers: { fs_user_id: 'u1' }, data: { k: 1 } });
      expect(event.identifiers).toEqual({ fs_user_id: 'u1' });
      expect(Object.keys(event.data)).not.toContain('polluted');
      expect(Object.keys(event.identifiers)).not.toContain('polluted');
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });

  it('non-enumerable keys are not read', () => {
    const ids = Object.defineProperty({ fs_user_id: 'u1' }, 'hidden', { value: 'h', enumerable: false });
    expect(ok({ identifiers: ids }).identifiers).toEqual({ fs_user_id: 'u1' });
  });

  it('empty identifier values are left out; the others kept', () => {
    expect(ok({ identifiers: { fs_user_id: '', email: 'e@x.y' } }).identifiers).toEqual({ email: 'e@x.y' });
  });
});

describe('buildEvent: fs_user_id spellings', () => {
  it.each(['FS-USER-ID', 'FS_USER_ID', 'fs-user-id', 'Fs_User-Id', 'fs_user_id'])('%s becomes fs_user_id', (key) => {
    expect(ok({ identifiers: { [key]: 'u' } }).identifiers).toEqual({ fs_user_id: 'u' });
  });

  it.each(['fs_userid', 'fs_user_ids', 'fs_user_ix', 'fs.user.id', 'FS USER ID'])('%s is another identifier, kept as written', (key) => {
    expect(ok({ identifiers: { [key]: 'u' } }).identifiers).toEqual({ [key]: 'u' });
  });

  it('two spellings with the same value are one identifier', () => {
    expect(ok({ identifiers: { fs_user_id: 'u', 'FS-USER-ID': 'u' } }).identifiers).toEqual({ fs_user_id: 'u' });
  });

  it('two spellings with different values conflict', () => {
    expect(refused({ identifiers: { fs_user_id: 'u', 'FS-USER-ID': 'v' } })).toEqual({
      code: 'invalidIdentifiers',
      message: 'identifiers.FS-USER-ID conflicts with fs_user_id',
    });
  });

  it('an empty spelling does not count as the user id', () => {
    expect(ok({ identifiers: { 'FS-USER-ID': '', fs_user_id: 'u' } }).identifiers).toEqual({ fs_user_id: 'u' });
  });
});

describe('buildEvent: every error code', () => {
  it.each<[string, Partial<RawEvent>, string, string]>([
    ['identifiers missing', { identifiers: undefined }, 'invalidIdentifiers', 'identifiers must be an object, got undefined'],
    ['identifiers null', { identifiers: null }, 'invalidIdentifiers', 'identifiers must be an object, got null'],
    ['identifiers a string', { identifiers: 'u1' }, 'invalidIdentifiers', 'identifiers must be an object, got "u1"'],
    ['identifiers an array', { identifiers: ['u1'] }, 'invalidIdentifiers', 'identifiers must be an object, got an array'],
    ['identifiers a Date', { identifiers: new Date(0) }, 'invalidIdentifiers', 'identifiers must be an object, got a Date'],
    ['identifiers empty', { identifiers: {} }, 'invalidIdentifiers', 'identifiers empty'],
    ['identifiers all empty', { identifiers: { a: '' } }, 'invalidIdentifiers', 'identifiers empty'],
    ['an identifier not a string', { identifiers: { fs_user_id: 5 } }, 'invalidIdentifiers', 'identifiers.fs_user_id must be a string, got number 5'],
    ['an identifier null', { identifiers: { fs_user_id: null } }, 'invalidIdentifiers', 'identifiers.fs_user_id must be a string, got null'],
    ['an identifier key not a string', { identifiers: new Map([[1, 'x']]) }, 'invalidIdentifiers', 'identifiers has an invalid key number 1'],
    ['an empty identifier key', { identifiers: new Map([['', 'x']]) }, 'invalidIdentifiers', 'identifiers has an invalid key ""'],
    ['__proto__ in identifiers', { identifiers: new Map([['__proto__', 'x']]) }, 'invalidIdentifiers', 'identifiers has an invalid key "__proto__"'],
    ['__proto__ as own key', { identifiers: JSON.parse('{"fs_user_id":"u","__proto__":"x"}') }, 'invalidIdentifiers', 'identifiers has an invalid key "__proto__"'],
    ['type a number', { type: 5 }, 'invalidType', 'type must be a string, got number 5'],
    ['type a boolean', { type: true }, 'invalidType', 'type must be a string, got boolean true'],
    ['action missing', { action: undefined }, 'invalidAction', 'action must be a string, got undefined'],
    ['action null', { action: null }, 'invalidAction', 'action must be a string, got null'],
    ['action a number', { action: 5 }, 'invalidAction', 'action must be a string, got number 5'],
    ['action an object', { action: {} }, 'invalidAction', 'action must be a string, got an object'],
    ['action empty', { action: '' }, 'invalidAction', 'action empty'],
    ['action blank', { action: ' \t' }, 'invalidAction', 'action empty'],
    ['data a string', { data: 'x' }, 'invalidData', 'data must be an object, got "x"'],
    ['data an array', { data: [1] }, 'invalidData', 'data must be an object, got an array'],
    ['data NaN', { data: { n: Number.NaN } }, 'invalidData', 'data.n must be a string, finite number, boolean or null, got number NaN'],
    ['data Infinity', { data: { n: -Infinity } }, 'invalidData', 'data.n must be a string, finite number, boolean or null, got number -Infinity'],
    ['data nested object', { data: { o: {} } }, 'invalidData', 'data.o must be a string, finite number, boolean or null, got an object'],
    ['data nested array', { data: { o: [] } }, 'invalidData', 'data.o must be a string, finite number, boolean or null, got an array'],
    ['data nested Map', { data: { o: new Map() } }, 'invalidData', 'data.o must be a string, finite number, boolean or null, got a Map'],
    ['data undefined value', { data: { o: undefined } }, 'invalidData', 'data.o must be a string, finite number, boolean or null, got undefined'],
    ['data bigint', { data: { o: 1n } }, 'invalidData', 'data.o must be a string, finite number, boolean or null, got bigint 1'],
    ['data symbol', { data: { o: Symbol('s') } }, 'invalidData', 'data.o must be a string, finite number, boolean or null, got a symbol'],
    ['data function', { data: { o: () => 1 } }, 'invalidData', 'data.o must be a string, finite number, boolean or null, got a function'],
    ['data empty key', { data: new Map([['', 1]]) }, 'invalidData', 'data has an invalid key ""'],
    ['data __proto__', { data: new Map([['__proto__', 1]]) }, 'invalidData', 'data has an invalid key "__proto__"'],
  ])('%s', (_name, raw, code, message) => {
    expect(refused(raw)).toEqual({ code, message });
  });

  it('describes a long string by its length, a short one by its JSON', () => {
    expect(refused({ identifiers: 'x'.repeat(41) }).message).toBe('identifiers must be an object, got a string of 41 characters');
    expect(refused({ identifiers: 'x'.repeat(40) }).message).toBe(`identifiers must be an object, got "${'x'.repeat(40)}"`);
  });

  it('checks identifiers first, then type, action and data', () => {
    expect(refused({ identifiers: null, type: 1, action: null, data: 'x' }).code).toBe('invalidIdentifiers');
    expect(refused({ type: 1, action: null, data: 'x' }).code).toBe('invalidType');
    expect(refused({ action: null, data: 'x' }).code).toBe('invalidAction');
  });

  it('a hostile getter is reported against the field being read, never thrown', () => {
    const throwing = (message: unknown) => ({
      get fs_user_id(): string {
        throw message;
      },
    });
    expect(refused({ identifiers: throwing(new Error('boom')) })).toEqual({ code: 'invalidIdentifiers', message: 'identifiers unreadable: boom' });
    expect(refused({ identifiers: throwing('plain') })).toEqual({ code: 'invalidIdentifiers', message: 'identifiers unreadable: plain' });
    const data = {
      get k(): number {
        throw new Error('data boom');
      },
    };
    expect(refused({ data })).toEqual({ code: 'invalidData', message: 'data unreadable: data boom' });
    const raw = {
      type: undefined,
      identifiers: { fs_user_id: 'u' },
      data: undefined,
      get action(): string {
        throw new Error('no action');
      },
    };
    const result = buildEvent(raw, ctx);
    expect(result).toBeInstanceOf(OdpError);
    expect((result as OdpError).code).toBe('invalidAction');
    const rawType = {
      action: 'a',
      identifiers: { fs_user_id: 'u' },
      data: undefined,
      get type(): string {
        throw new Error('t');
      },
    };
    expect((buildEvent(rawType, ctx) as OdpError).code).toBe('invalidType');
  });

  it('an error whose message cannot be read still gives a message', () => {
    const evil = {
      get message(): string {
        throw new Error('worse');
      },
    };
    Object.setPrototypeOf(evil, Error.prototype);
    const identifiers = {
      get fs_user_id(): string {
        throw evil;
      },
    };
    expect(refused({ identifiers }).message).toBe('identifiers unreadable: unknown error');
  });
});

describe('buildEvent: maxEventBytes', () => {
  /** The exact JSON size the client will send: the event plus the 36-character id it fills in. */
  function wireBytes(event: OdpWireEvent): number {
    return Buffer.byteLength(JSON.stringify(event)) + (event.data.idempotence_id === '' ? 36 : 0);
  }

  it('an event of exactly maxEventBytes is accepted; one byte more is eventTooLarge, with its size in the message', () => {
    const raw = { data: { text: 'é'.repeat(400) } };
    const bytes = wireBytes(ok(raw, 1_000_000));
    expect(build(raw, bytes)).not.toBeInstanceOf(OdpError);
    expect(refused(raw, bytes - 1)).toEqual({ code: 'eventTooLarge', message: `event of ${bytes} bytes exceeds maxEventBytes (${bytes - 1})` });
  });

  it('a given idempotence id is measured as given (no room added for a generated one)', () => {
    const raw = { data: { idempotence_id: 'given', text: 'x'.repeat(600) } };
    const bytes = wireBytes(ok(raw, 1_000_000));
    expect(bytes).toBe(Buffer.byteLength(JSON.stringify(ok(raw, 1_000_000))));
    expect(build(raw, bytes)).not.toBeInstanceOf(OdpError);
    expect(refused(raw, bytes - 1).code).toBe('eventTooLarge');
  });

  it('counts JSON escapes and 4-byte characters', () => {
    expect(refused({ data: { s: '\u0001'.repeat(800) } }, 4_000).code).toBe('eventTooLarge'); // 6 bytes each
    expect(refused({ data: { s: '😀'.repeat(600) } }, 2_000).code).toBe('eventTooLarge'); // 4 bytes each
    expect(refused({ identifiers: { fs_user_id: 'u'.repeat(2_000) } }, 2_000).code).toBe('eventTooLarge');
    expect(refused({ type: 't'.repeat(2_000) }, 2_000).code).toBe('eventTooLarge');
    expect(refused({ action: 'a'.repeat(2_000) }, 2_000).code).toBe('eventTooLarge');
  });

  it('many small values add up: numbers, booleans and nulls count too', () => {
    const numbers: Record<string, number> = {};
    for (let i = 0; i < 200; i++) numbers[`k${String(i).padStart(2, '0')}`] = -1.2345678901234567e-300;
    expect(refused({ data: numbers }, 5_000).code).toBe('eventTooLarge');
    const many: Record<string, boolean | null> = {};
    for (let i = 0; i < 600; i++) many[`k${i}`] = i % 2 ? false : null;
    expect(refused({ data: many }, 5_000).code).toBe('eventTooLarge');
    const keys: Record<string, string> = {};
    for (let i = 0; i < 300; i++) keys[`key-number-${i}`] = '';
    expect(refused({ data: keys }, 5_000).code).toBe('eventTooLarge');
    const idKeys: Record<string, string> = {};
    for (let i = 0; i < 300; i++) idKeys[`identifier-key-${i}`] = 'v';
    expect(refused({ identifiers: idKeys }, 5_000).code).toBe('eventTooLarge');
  });
});

describe('buildEvent: vuid and assignIds', () => {
  it('the context vuid is added as identifiers.vuid unless the event names one, and counts towards the size', () => {
    const raw = { type: undefined, action: 'a', identifiers: { fs_user_id: 'u' }, data: undefined };
    expect((buildEvent(raw, { maxEventBytes: 32_768, vuid: 'vuid_1' }) as OdpWireEvent).identifiers).toEqual({ fs_user_id: 'u', vuid: 'vuid_1' });
    const own = { ...raw, identifiers: { fs_user_id: 'u', vuid: 'mine' } };
    expect((buildEvent(own, { maxEventBytes: 32_768, vuid: 'vuid_1' }) as OdpWireEvent).identifiers).toEqual({ fs_user_id: 'u', vuid: 'mine' });
    const plain = buildEvent(raw, { maxEventBytes: 32_768, vuid: null }) as OdpWireEvent;
    const exact = Buffer.byteLength(JSON.stringify(plain)) + 36;
    expect(buildEvent(raw, { maxEventBytes: exact, vuid: null })).not.toBeInstanceOf(OdpError);
    expect(buildEvent(raw, { maxEventBytes: exact, vuid: 'v' })).toBeInstanceOf(OdpError); // `,"vuid":"v"` makes it larger
  });

  it('assignIds gives an id to each event without one, once; given ids stay', () => {
    let n = 0;
    const newId = () => `n${n++}`;
    const a = ok({});
    const b = ok({ data: { idempotence_id: 'given' } });
    assignIds([a, b], newId);
    expect([a.data.idempotence_id, b.data.idempotence_id]).toEqual(['n0', 'given']);
    assignIds([a, b], newId);
    expect(a.data.idempotence_id).toBe('n0');
    expect(n).toBe(1);
  });
});
