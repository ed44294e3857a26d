import { describe, expect, it, vi } from 'vitest';
import { OdpError } from '../../src/event/odp-error';
import type { OdpEvent, OdpWireEvent } from '../../src/types';
import { datafile, FakePage, makeClient, memoryKeyValue, settle } from './harness';

const event = (n = 0) => ({ action: 'a', identifiers: { fs_user_id: `u${n}` } });
const sent = (bodies: OdpWireEvent[][]) => bodies.flat();

describe('client: beforeSend', () => {
  it('sees the event as it will be sent, id included; what it returns is sent', async () => {
    const seen: OdpEvent[] = [];
    const { client, transport } = makeClient({
      datafile: datafile(),
      beforeSend: (e) => {
        seen.push(structuredClone(e));
        return { ...e, data: { ...e.data, extra: 'x' } };
      },
    });
    expect(client.sendOdpEvent(event(1))).toBeNull();
    expect(seen[0]!.data.idempotence_id).toMatch(/^00000000-0000-4000-8000-\d{12}$/);
    await client.flush();
    const [wire] = sent(transport.bodies());
    expect(wire!.data).toMatchObject({ extra: 'x', idempotence_id: seen[0]!.data.idempotence_id });
    expect(client.stats().accepted).toBe(1);
  });

  it('null filters the event; a throw, a non-object or an invalid event refuses it; a throw is logged once per message', async () => {
    let mode = 'null';
    const { client, transport, log } = makeClient({
      datafile: datafile(),
      beforeSend: (e) => {
        if (mode === 'null') return null;
        if (mode === 'throw') throw new Error('boom');
        if (mode === 'throwString') throw 'plain';
        if (mode === 'number') return 5 as never;
        if (mode === 'invalid') return { ...e, action: '' };
        return e;
      },
    });
    const refusal = (m: string) => {
      mode = m;
      const error = client.sendOdpEvent(event());
      expect(error, m).toBeInstanceOf(OdpError);
      return [error!.code, error!.message];
    };
    expect(refusal('null')).toEqual(['filtered', 'beforeSend dropped the event']);
    expect(refusal('throw')).toEqual(['beforeSendFailed', 'beforeSend threw: boom']);
    refusal('throw');
    expect(refusal('throwString')).toEqual(['beforeSendFailed', 'beforeSend threw: plain']);
    expect(refusal('number')).toEqual(['beforeSendFailed', 'beforeSend must return an event or null, got number']);
    expect(refusal('invalid')[0]).toBe('beforeSendFailed');
    expect(refusal('invalid')[1]).toMatch(/^beforeSend returned an invalid event: action/);
    // A failing hook is a bug in the host's code: error level, each distinct refusal once.
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      `[odp-sdk] event refused: beforeSendFailed: beforeSend threw: boom`,
      `[odp-sdk] event refused: beforeSendFailed: beforeSend threw: plain`,
      `[odp-sdk] event refused: beforeSendFailed: beforeSend must return an event or null, got number`,
      `[odp-sdk] event refused: beforeSendFailed: beforeSend returned an invalid event: action empty`,
    ]);
    expect(client.stats()).toMatchObject({ accepted: 0, rejected: { filtered: 1, beforeSendFailed: 6 } });
    mode = 'pass';
    expect(client.sendOdpEvent(event())).toBeNull();
    await client.flush();
    expect(transport.bodies()).toHaveLength(1);
  });

  it('an id the hook removed or blanked is drawn again; the vuid is not added again', async () => {
    const { client, transport } = makeClient(
      { datafile: datafile(), vuid: true, beforeSend: (e) => ({ ...e, identifiers: { fs_user_id: 'u' }, data: { ...e.data, idempotence_id: '' } }) },
      { storage: memoryKeyValue() },
    );
    client.sendOdpEvent(event());
    await client.flush();
    const wire = sent(transport.bodies()).find((e) => e.action === 'a')!;
    expect(wire.identifiers).toEqual({ fs_user_id: 'u' });
    expect(wire.data.idempotence_id).toMatch(/^00000000-/);
    const removed = makeClient({ datafile: datafile(), beforeSend: (e) => ({ ...e, data: { x: 1 } as never }) });
    removed.client.sendOdpEvent(event());
    await removed.client.flush();
    expect(sent(removed.transport.bodies())[0]!.data.idempotence_id).toMatch(/^00000000-/);
  });

  it('hook errors that differ only in numbers or quoted values are one refusal; at most 100 distinct refusals are logged, the rest counted', async () => {
    let n = 0;
    const { client, log, clock } = makeClient({
      datafile: datafile(),
      beforeSend: () => {
        throw new Error(`failed at "${n}" after ${n++} ms`);
      },
    });
    for (let i = 0; i < 60; i++) client.sendOdpEvent(event());
    expect(log.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    let k = 0;
    const words = Array.from({ length: 150 }, () => `key${String.fromCharCode(97 + (k % 26))}${String.fromCharCode(97 + Math.floor(k++ / 26))}`);
    const plain = makeClient({ datafile: datafile() }, { logLevel: 'warn' });
    for (const word of words) plain.client.sendOdpEvent({ action: 'a', identifiers: { fs_user_id: 'u' }, data: { [word]: [] as never } });
    expect(plain.log.lines.filter((l) => l.level === 'warn')).toHaveLength(100);
    await plain.clock.advance(60_000);
    expect(plain.log.lines.at(-1)!.message).toBe('[odp-sdk] 50 more events refused (invalidData ×50)');
    void clock;
  });
});

describe('client: opt-out', () => {
  it('setOptOut(true) discards what is queued, waiting or in flight (optedOut), forgets the vuid, refuses later events; the choice is stored', async () => {
    const storage = memoryKeyValue();
    const { client, transport, log } = makeClient({ datafile: datafile(), vuid: true, odp: { flushIntervalMs: 60_000, batchSize: 2 } }, { storage });
    transport.fallback = 'hang';
    const dropped: unknown[] = [];
    client.on('dropped', (d) => dropped.push(d));
    client.sendOdpEvent(event(1)); // with client_initialized: a batch of 2, in flight
    await settle();
    client.sendOdpEvent(event(2)); // queued
    expect(client.getVuid()).not.toBeNull();
    client.setOptOut(true);
    expect(client.isOptedOut()).toBe(true);
    expect(client.getVuid()).toBeNull();
    expect(storage.map.get('odp-sdk-opt-out')).toBe('1');
    expect(storage.map.has('optimizely-vuid')).toBe(false);
    expect(client.stats()).toMatchObject({ queued: 0, inFlight: 0, dropped: 3, droppedByReason: { optedOut: 3 } });
    expect(dropped).toContainEqual({ reason: 'optedOut', count: 1, message: '1 queued events were discarded (optedOut)' });
    expect(log.text()).toContain('opted out: 3 events discarded');
    expect(client.sendOdpEvent(event(3))?.code).toBe('optedOut');
    client.setOptOut(true); // again: nothing more
    expect(client.stats().dropped).toBe(3);
    expect(await client.createUserContext('u')!.fetchQualifiedSegments()).toBe(false);
    expect(log.text()).toContain('fetchQualifiedSegments: opted out, no request');
  });

  it('opting back in starts clean: a new vuid and its client_initialized; invalid input is refused', async () => {
    const storage = memoryKeyValue();
    const { client, transport, log } = makeClient({ datafile: datafile(), vuid: true }, { storage });
    const first = client.getVuid();
    client.setOptOut(true);
    client.setOptOut(false);
    expect(storage.map.get('odp-sdk-opt-out')).toBe('0');
    expect(client.getVuid()).not.toBeNull();
    expect(first).not.toBeNull();
    expect(storage.map.get('optimizely-vuid')).toBe(client.getVuid()); // removed at opt-out, stored anew
    await client.flush();
    expect(sent(transport.bodies()).filter((e) => e.action === 'client_initialized').map((e) => e.identifiers.vuid)).toContain(client.getVuid());
    client.setOptOut('yes' as never);
    expect(log.text()).toContain('setOptOut expects true or false');
    expect(client.isOptedOut()).toBe(false);
  });

  it('a stored choice wins over the optOut option and the GPC signal; GPC counts only with honorGlobalPrivacyControl', () => {
    const page = new FakePage();
    page.navigator.globalPrivacyControl = true;
    expect(makeClient({ datafile: datafile() }).client.isOptedOut()).toBe(false);
    expect(makeClient({ datafile: datafile(), honorGlobalPrivacyControl: true }).client.isOptedOut()).toBe(true);
    page.navigator.globalPrivacyControl = 'yes';
    expect(makeClient({ datafile: datafile(), honorGlobalPrivacyControl: true }).client.isOptedOut()).toBe(false);
    expect(makeClient({ datafile: datafile(), optOut: true }).client.isOptedOut()).toBe(true);
    const chosenIn = memoryKeyValue();
    chosenIn.set('odp-sdk-opt-out', '0');
    expect(makeClient({ datafile: datafile(), optOut: true }, { storage: chosenIn }).client.isOptedOut()).toBe(false);
    const chosenOut = memoryKeyValue();
    chosenOut.set('odp-sdk-opt-out', '1');
    chosenOut.set('optimizely-vuid', 'vuid_old');
    const out = makeClient({ datafile: datafile(), vuid: true }, { storage: chosenOut });
    expect(out.client.isOptedOut()).toBe(true);
    expect(out.client.getVuid()).toBeNull();
    expect(chosenOut.map.has('optimizely-vuid')).toBe(false);
  });

  it('opted out from the start: no client_initialized, no identified event, no take-over', async () => {
    const { client, transport } = makeClient({ datafile: datafile(), vuid: true, optOut: true }, { storage: memoryKeyValue() });
    client.createUserContext('user');
    await client.flush();
    expect(transport.calls.filter((c) => c.request.method === 'POST')).toHaveLength(0);
  });
});

describe('client: waitUntil and compression', () => {
  it('each batch handed to the dispatcher goes to waitUntil; it resolves once delivered; a waitUntil that throws is logged', async () => {
    const promises: Promise<unknown>[] = [];
    const { client, transport } = makeClient({ datafile: datafile(), waitUntil: (p) => void promises.push(p) });
    transport.fallback = 'hang';
    client.sendOdpEvent(event(1));
    await settle();
    expect(promises).toHaveLength(1); // flushIntervalMs 0: cut at the end of the task
    let done = false;
    void promises[0]!.then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    transport.calls.at(-1)!.answer({ status: 202 });
    await settle();
    expect(done).toBe(true);

    const bad = makeClient({
      datafile: datafile(),
      waitUntil() {
        throw new TypeError('Illegal invocation');
      },
    });
    bad.client.sendOdpEvent(event(1));
    await bad.client.flush();
    expect(bad.log.text()).toContain('waitUntil threw (bind it to its ctx): TypeError: Illegal invocation');
    expect(bad.client.stats().delivered).toBe(1);
  });

  it('waitUntilTimeoutMs: every promise settles by its deadline, through an outage with Retry-After; what is left is dropped as waitUntilTimeout and stats balance', async () => {
    const handed: Array<{ settledAt?: number }> = [];
    const { client, transport, clock, log } = makeClient({
      datafile: datafile(),
      odp: { batchSize: 5, initialBackoffMs: 1_000, maxBackoffMs: 30_000 },
      waitUntilTimeoutMs: 20_000,
      waitUntil: (promise) => {
        const entry: { settledAt?: number } = {};
        handed.push(entry);
        void promise.then(() => (entry.settledAt = clock.now()));
      },
    });
    const dropped: Array<{ reason: string; count: number }> = [];
    client.on('dropped', ({ reason, count }) => dropped.push({ reason, count }));
    // ODP down for longer than the deadline, asking for 2 minutes between attempts.
    transport.fallback = { status: 503, headers: { 'retry-after': '120' } };
    const start = clock.now();
    for (let i = 0; i < 12; i++) expect(client.sendOdpEvent(event(i))).toBeNull();
    await settle();
    expect(handed).toHaveLength(3); // two full batches and the partial one at the end of the task
    await clock.advance(19_999);
    expect(handed.filter((entry) => entry.settledAt !== undefined)).toHaveLength(0);
    await clock.advance(1);
    expect(handed.map((entry) => entry.settledAt! - start)).toEqual([20_000, 20_000, 20_000]);
    const stats = client.stats();
    expect(stats.droppedByReason.waitUntilTimeout).toBe(12);
    expect(stats).toMatchObject({ accepted: 12, delivered: 0, dropped: 12, pending: 0, queued: 0, inFlight: 0, unconfirmed: 0 });
    expect(stats.accepted).toBe(stats.delivered + stats.dropped + stats.pending + stats.unconfirmed);
    expect(dropped.reduce((sum, entry) => sum + entry.count, 0)).toBe(12);
    expect(new Set(dropped.map((entry) => entry.reason))).toEqual(new Set(['waitUntilTimeout']));
    expect(log.text()).toMatch(/error: .*events were dropped: not delivered within waitUntilTimeoutMs \(20000 ms\)/);
    expect(clock.pending).toBe(0); // no retry and no deadline timer left behind
  });

  it('waitUntilTimeoutMs: a batch in flight at the deadline is dropped too and its late answer ignored; a split batch expires in all its parts; a delivered batch cancels its deadline', async () => {
    const handed: Promise<unknown>[] = [];
    const { client, transport, clock } = makeClient({
      datafile: datafile(),
      odp: { batchSize: 4, maxConcurrentRequests: 1 },
      waitUntilTimeoutMs: 5_000,
      waitUntil: (promise) => void handed.push(promise),
    });
    transport.answer({ status: 413 }, 'hang');
    for (let i = 0; i < 4; i++) client.sendOdpEvent(event(i));
    await settle();
    // Split in halves: the first half hangs in flight, the second waits for the slot.
    expect(transport.calls).toHaveLength(2);
    let settled = false;
    void handed[0]!.then(() => (settled = true));
    await clock.advance(5_000);
    expect(settled).toBe(true);
    expect(client.stats()).toMatchObject({ accepted: 4, dropped: 4, pending: 0, inFlight: 0 });
    expect(client.stats().droppedByReason.waitUntilTimeout).toBe(4);
    transport.calls[1]!.answer({ status: 202 });
    await settle();
    expect(client.stats()).toMatchObject({ delivered: 0, dropped: 4 });

    // Delivered in time: the deadline timer goes with it, nothing is dropped later.
    transport.fallback = { status: 202 };
    client.sendOdpEvent(event(9));
    await settle();
    await settle();
    expect(client.stats().delivered).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("odp.compression reaches each event request", async () => {
    const { client, transport } = makeClient({ datafile: datafile(), odp: { compression: 'gzip' } });
    client.sendOdpEvent(event(1));
    await client.flush();
    expect(transport.calls.at(-1)!.request.compression).toBe('gzip');
    const plain = makeClient();
    plain.client.sendOdpEvent(event(1));
    await plain.client.flush();
    expect(plain.transport.calls.at(-1)!.request.compression).toBe('none');
  });

  it('the dispatcher gets the platform keep-alive budget', async () => {
    const { client, transport } = makeClient({ datafile: datafile() }, { keepaliveBytes: 100_000 });
    client.sendOdpEvent(event(1));
    await client.flush();
    expect(transport.calls.at(-1)!.request.keepalive).toBe(true);
    vi.restoreAllMocks();
  });
});
