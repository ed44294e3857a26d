import { describe, expect, it } from 'vitest';
import { attachPage, KEEPALIVE_BYTES } from '../../src/platform/browser/page-lifecycle';
import type { ClientHandle } from '../../src/platform/platform';
import type { OdpClientConfig, OdpWireEvent } from '../../src/types';
import { datafile, FakePage, FakeStorage, ids, keyValueOver, makeClient, PUBLIC_KEY, settle, START, wireEvent } from './harness';

const event = (n: number) => ({ action: 'a', identifiers: { fs_user_id: `u${n}` } });

/** A client on a fake page, with its journal over a fake localStorage. */
function pageClient(config: OdpClientConfig = { datafile: datafile() }, { local = new FakeStorage(), page = new FakePage(), keepaliveBytes = 10_000 } = {}) {
  const storage = keyValueOver(local);
  const rig = makeClient({ odp: { flushIntervalMs: 60_000 }, ...config }, { storage, keepaliveBytes, attach: (schedule) => (client) => attachPage(client, storage, schedule) });
  return { ...rig, page, local, storage };
}

/** What another client (page) left in localStorage under its id `owner`, with its note. */
function leftBehind(local: FakeStorage, owner: string, events: OdpWireEvent[], note: { t?: number; o?: 0 | 1; r?: number } = {}, publicKey = PUBLIC_KEY): void {
  local.setItem(`odp-sdk~${owner}`, JSON.stringify({ t: START, o: 1, r: 0, ...note }));
  local.setItem(`odp-sdk:${publicKey}:${owner}:1`, JSON.stringify(events));
}

const entries = (local: FakeStorage) => local.keys().filter((key) => key.startsWith('odp-sdk:'));
const noteOf = (local: FakeStorage) => {
  const key = local.keys().find((k) => k.startsWith('odp-sdk~'));
  return key ? (JSON.parse(local.getItem(key)!) as { t: number; o: number; r: number }) : undefined;
};

describe('page lifecycle (attachPage)', () => {
  it('outside a page: nothing attached', () => {
    const handle = {} as ClientHandle;
    expect(attachPage(handle, undefined, () => () => {})).toBeUndefined();
    expect(KEEPALIVE_BYTES).toBe(61_440);
  });

  it('what an earlier page left is taken over once ready: restored with its ids, sent first, its pause honoured', async () => {
    const local = new FakeStorage();
    leftBehind(local, 'gone', [wireEvent(1), wireEvent(2)], { r: START + 1_000 });
    const { client, transport, clock, log } = pageClient({ datafile: datafile() }, { local });
    expect(log.lines).toContainEqual({ level: 'info', message: '[odp-sdk] 2 events taken over from an earlier page' });
    expect(log.text()).not.toMatch(/discarded/);
    expect(client.stats()).toMatchObject({ accepted: 2, queued: 2 });
    await settle();
    expect(transport.calls).toHaveLength(0); // its Retry-After still runs
    await clock.advance(1_000);
    expect(transport.bodies().map(ids)).toEqual([['id-1', 'id-2']]);
    expect(client.stats().delivered).toBe(2);
    expect(local.keys()).toEqual([]);
  });

  it('restored events beyond queueSize stay stored for a later page, with a warning; nothing to restore: no log line', () => {
    const local = new FakeStorage();
    leftBehind(local, 'gone', [1, 2, 3].map((n) => wireEvent(n)));
    const { client, log } = pageClient({ datafile: datafile(), odp: { queueSize: 2, flushIntervalMs: 60_000 } }, { local });
    expect(log.lines).toContainEqual({ level: 'warn', message: '[odp-sdk] 1 stored events not taken (queue full or client closed); kept for the next page' });
    expect(client.stats().accepted).toBe(2);
    // The third is kept, left for good, so that the next page takes it over with its id.
    const kept = Object.keys(local).filter((key) => key.startsWith('odp-sdk:') && key.includes('-r:'));
    expect(kept).toHaveLength(1);
    expect((JSON.parse(local.getItem(kept[0]!)!) as Array<{ data: { idempotence_id: string } }>).map((event) => event.data.idempotence_id)).toEqual(['id-3']);
    const empty = pageClient();
    expect(empty.log.text()).not.toMatch(/earlier page/);
  });

  it('disabled or not ready: nothing is claimed; opted out: what gone pages left for the key is claimed and discarded, counted', () => {
    for (const config of [{ datafile: datafile(), odp: { disabled: true } }, { sdkKey: 'k' }] as OdpClientConfig[]) {
      const local = new FakeStorage();
      leftBehind(local, 'gone', [wireEvent(1)]);
      const { client } = pageClient(config, { local });
      expect(client.stats().accepted).toBe(0);
      expect(entries(local)).toHaveLength(1);
    }
    const local = new FakeStorage();
    leftBehind(local, 'gone', [wireEvent(1), wireEvent(2)]);
    leftBehind(local, 'other-key', [wireEvent(3)], {}, 'another-public-key');
    const { client } = pageClient({ datafile: datafile(), optOut: true }, { local });
    expect(client.stats()).toMatchObject({ accepted: 2, dropped: 2, droppedByReason: { optedOut: 2 }, pending: 0 });
    expect(entries(local)).toEqual(['odp-sdk:another-public-key:other-key:1']); // another key's: a client of that key counts them
  });

  it('queued events are journaled once per task, with their ids; delivered ones leave the journal', async () => {
    const { client, clock, local, transport } = pageClient();
    transport.fallback = 'hang';
    client.sendOdpEvent(event(1));
    client.sendOdpEvent(event(2));
    expect(entries(local)).toEqual([]);
    await clock.advance(0);
    expect(clock.delays.filter((d) => d === 0)).toHaveLength(1);
    const [key] = entries(local);
    expect(key).toMatch(/:q$/);
    const stored = JSON.parse(local.getItem(key!)!) as OdpWireEvent[];
    expect(stored.map((e) => e.identifiers.fs_user_id)).toEqual(['u1', 'u2']);
    expect(stored.every((e) => /^[0-9a-f-]{36}$/.test(e.data.idempotence_id as string))).toBe(true);
    expect(noteOf(local)).toMatchObject({ o: 0 });
    client.sendOdpEvent(event(3));
    await clock.advance(0);
    void client.flush();
    await clock.advance(0); // the partial batch's entry goes with the next write
    const sent = transport.bodies()[0]!;
    expect(ids(sent.slice(0, 2))).toEqual(stored.map((e) => e.data.idempotence_id)); // stored and sent alike
    expect(entries(local)).toHaveLength(1); // the batch, while in flight; the partial batch is gone
    transport.calls[0]!.answer({ status: 202 });
    await settle();
    expect(local.keys()).toEqual([]);
    expect(client.stats().storageErrors).toBe(0);
  });

  it('hidden: the partial batch is cut and goes as keep-alive at once; the note says the page is not left', async () => {
    const { client, transport, local, page } = pageClient();
    transport.fallback = 'hang';
    client.sendOdpEvent(event(1));
    page.visible(); // nothing to do
    expect(transport.calls).toHaveLength(0);
    page.hidden();
    expect(transport.calls).toHaveLength(1);
    expect(transport.calls[0]!.request.keepalive).toBe(true);
    expect(noteOf(local)).toMatchObject({ t: START, o: 0, r: 0 });
  });

  it('hidden while offline: the batch is cut but nothing is sent', async () => {
    const page = new FakePage();
    page.navigator.onLine = false;
    const { client, transport, local } = pageClient(undefined, { page });
    client.sendOdpEvent(event(1));
    page.hidden();
    await settle();
    expect(transport.calls).toHaveLength(0);
    expect(entries(local)).toHaveLength(1);
    expect(entries(local)[0]).not.toMatch(/:q$/);
    page.online(true);
    await settle();
    expect(transport.calls).toHaveLength(1);
  });

  it('offline and online: a hold, and back online the backoff is forgiven; navigator.onLine unknown counts as online', async () => {
    const unknown = new FakePage();
    delete unknown.navigator.onLine;
    const a = pageClient(undefined, { page: unknown });
    a.client.sendOdpEvent(event(1));
    await a.client.flush();
    expect(a.transport.calls).toHaveLength(1);

    const { client, transport, clock, page } = pageClient({ datafile: datafile(), odp: { flushIntervalMs: 60_000, initialBackoffMs: 1_000, maxBackoffMs: 1_000 } });
    transport.answer({ error: 'network' });
    client.sendOdpEvent(event(1));
    void client.flush();
    await settle();
    expect(transport.calls).toHaveLength(1);
    page.online(false);
    await clock.advance(1_000); // the retry is due, yet offline
    expect(transport.calls).toHaveLength(1);
    page.online(true);
    await settle();
    expect(transport.calls).toHaveLength(2);
    expect(client.stats().delivered).toBe(1);
  });

  it('left for good (pagehide): hand-off; a keep-alive request that then fails stays journaled as unconfirmed; the note says left', async () => {
    const { client, transport, local, page, clock } = pageClient();
    transport.fallback = 'hang';
    client.sendOdpEvent(event(1));
    page.hidden(); // sent as keep-alive while the page may still come back
    page.pagehide(false);
    expect(transport.calls).toHaveLength(1);
    expect(noteOf(local)).toMatchObject({ o: 1 });
    transport.calls[0]!.answer({ error: 'network', message: 'gone' });
    await settle();
    expect(client.stats()).toMatchObject({ unconfirmed: 1, inFlight: 0, queued: 0, delivered: 0 });
    expect(entries(local)).toHaveLength(1);
    client.sendOdpEvent(event(2)); // a late event: held, plain requests wait
    await clock.advance(60_000); // the flush timer cuts its batch: it stays queued
    expect(transport.calls).toHaveLength(1);
    expect(client.stats().queued).toBe(1);
    page.hidden(); // Chromium's visibilitychange after pagehide: sent as keep-alive, even though left
    await settle();
    expect(transport.calls).toHaveLength(2);
    expect(transport.calls[1]!.request.keepalive).toBe(true);

  });

  it('into the back/forward cache and back: the note says left while away and live again after; unconfirmed events go again with their ids, plain requests resume', async () => {
    const { client, transport, local, page } = pageClient();
    transport.answer('hang');
    client.sendOdpEvent(event(1));
    page.hidden();
    page.pagehide(true);
    expect(noteOf(local)).toMatchObject({ o: 1 }); // it may never come back: a live page may take its entries
    transport.calls[0]!.answer({ error: 'network' });
    await settle();
    expect(client.stats().unconfirmed).toBe(1);
    client.sendOdpEvent(event(2));
    await settle();
    expect(transport.calls).toHaveLength(1); // held while in the cache
    page.pageshow(false); // a fresh load: not this page's business
    await settle();
    expect(transport.calls).toHaveLength(1);
    page.pageshow(true);
    expect(noteOf(local)).toMatchObject({ o: 0 });
    await client.flush();
    expect(transport.bodies().map((b) => b.length)).toEqual([1, 1, 1]);
    expect(ids(transport.bodies()[1]!)).toEqual(ids(transport.bodies()[0]!));
    expect(client.stats()).toMatchObject({ delivered: 2, unconfirmed: 0 });
    expect(local.keys()).toEqual([]);
  });

  for (const how of ['pagehide into the back/forward cache', 'freeze'] as const) {
    it(`${how}: the note says left, with the server's pause, so that a live page of the site takes the entries over (after that pause)`, async () => {
      const { client, transport, local, page } = pageClient();
      transport.answer({ status: 503, headers: { 'retry-after': '30' } });
      client.sendOdpEvent(event(1));
      void client.flush();
      await settle();
      expect(noteOf(local)).toMatchObject({ o: 0 });
      if (how === 'freeze') page.freeze();
      else page.pagehide(true);
      expect(noteOf(local)).toEqual({ t: START, o: 1, r: START + 30_000 });
      expect(transport.calls).toHaveLength(1); // nothing sent over the Retry-After
    });
  }

  for (const how of ['pageshow', 'resume'] as const) {
    it(`back (${how}): batches another page took meanwhile are no longer its own (not sent, counted handedOver, not twice); the rest it sends`, async () => {
      const { client, transport, local, page, clock } = pageClient({ datafile: datafile(), odp: { flushIntervalMs: 60_000, batchSize: 2, maxConcurrentRequests: 1 } });
      transport.answer({ status: 503, headers: { 'retry-after': '5' } });
      for (let n = 1; n <= 4; n++) client.sendOdpEvent(event(n)); // two batches of two
      await settle();
      expect(entries(local)).toHaveLength(2);
      if (how === 'resume') page.freeze();
      else page.pagehide(true);
      // Another page of the site took the first batch over (it removes the entry it claims).
      const [first, second] = entries(local).sort();
      const idsIn = (key: string) => (JSON.parse(local.getItem(key)!) as OdpWireEvent[]).map((e) => e.data.idempotence_id);
      const taken = idsIn(first!);
      const kept = idsIn(second!);
      local.removeItem(first!);
      if (how === 'resume') page.resume();
      else page.pageshow(true);
      expect(client.stats()).toMatchObject({ accepted: 4, handedOver: 2, pending: 2, delivered: 0 });
      expect(noteOf(local)).toMatchObject({ o: 0 });
      await clock.advance(5_000);
      await client.flush();
      const sent = transport.bodies().slice(1).flat().map((e) => e.data.idempotence_id);
      expect(sent).toEqual(kept);
      expect(sent.some((id) => taken.includes(id))).toBe(false);
      expect(client.stats()).toMatchObject({ accepted: 4, handedOver: 2, delivered: 2, pending: 0 });
      expect(entries(local)).toEqual([]);
    });
  }

  it("another tab left for good (a storage note): what it left for this key is taken over now; other notes are ignored", async () => {
    const { client, transport, local, page } = pageClient();
    leftBehind(local, 'tab2', [wireEvent(5)], { o: 0 });
    page.storage('odp-sdk~tab2', JSON.stringify({ t: START, o: 0, r: 0 }));
    page.storage('unrelated', '1');
    expect(client.stats().accepted).toBe(0);
    page.storage('odp-sdk~tab2', JSON.stringify({ t: START, o: 1, r: 0 }));
    local.setItem('odp-sdk~tab2', JSON.stringify({ t: START, o: 1, r: 0 }));
    page.storage('odp-sdk~tab2', JSON.stringify({ t: START, o: 1, r: 0 }));
    expect(client.stats().accepted).toBe(1);
    await client.flush();
    expect(transport.bodies().map(ids)).toEqual([['id-5']]);
  });

  it('a note for another key, or before any settings, takes nothing over', () => {
    const notReady = pageClient({ sdkKey: 'k' });
    leftBehind(notReady.local, 'tab2', [wireEvent(5)]);
    notReady.page.storage('odp-sdk~tab2', JSON.stringify({ t: START, o: 1, r: 0 }));
    expect(notReady.client.stats().accepted).toBe(0);
  });

  it('the opt-out choice made in another tab reaches this client; an empty value is ignored', () => {
    const { client, page } = pageClient();
    page.storage('odp-sdk-opt-out', '1');
    expect(client.isOptedOut()).toBe(true);
    page.storage('odp-sdk-opt-out', null);
    expect(client.isOptedOut()).toBe(true);
    page.storage('odp-sdk-opt-out', '0');
    expect(client.isOptedOut()).toBe(false);
  });

  it("opting out forgets this client's entries (counted) and those gone pages left for its key (claimed, counted); other keys' entries stay", async () => {
    const local = new FakeStorage();
    const { client, clock, transport } = pageClient(undefined, { local });
    transport.fallback = 'hang';
    client.sendOdpEvent(event(1));
    await clock.advance(0);
    expect(entries(local)).toHaveLength(1);
    leftBehind(local, 'gone', [wireEvent(7), wireEvent(8)]); // a page left meanwhile (before this client claimed)
    leftBehind(local, 'other', [wireEvent(9)], {}, 'another-public-key');
    client.setOptOut(true);
    expect(entries(local)).toEqual(['odp-sdk:another-public-key:other:1']);
    expect(client.stats()).toMatchObject({ accepted: 3, dropped: 3, droppedByReason: { optedOut: 3 }, pending: 0 });
  });

  it("two clients on one page: one's opt-out (or opt-in) is the other's too, each counting its own", async () => {
    const local = new FakeStorage();
    const page = new FakePage();
    const a = pageClient(undefined, { local, page });
    const b = pageClient(undefined, { local, page });
    for (const { transport } of [a, b]) transport.fallback = 'hang';
    a.client.sendOdpEvent(event(1));
    b.client.sendOdpEvent(event(2));
    b.client.sendOdpEvent(event(3));
    await a.clock.advance(0);
    await b.clock.advance(0);
    expect(entries(local)).toHaveLength(2);
    a.client.setOptOut(true);
    expect(b.client.isOptedOut()).toBe(true);
    expect(entries(local)).toEqual([]);
    expect(a.client.stats().droppedByReason.optedOut).toBe(1);
    expect(b.client.stats().droppedByReason.optedOut).toBe(2);
    b.client.setOptOut(false);
    expect(a.client.isOptedOut()).toBe(false);
    expect(local.getItem('odp-sdk-opt-out')).toBe('0');
  });

  it('close() at its deadline: stored batches stay stored for the next page (handedOver, not dropped); detached: no listener, no pending write, entries claimable at once', async () => {
    const { client, local, page, clock, transport } = pageClient();
    transport.fallback = 'hang';
    client.sendOdpEvent(event(2));
    client.sendOdpEvent(event(3)); // a write scheduled, then the client closes
    const closing = client.close({ timeoutMs: 0 });
    await clock.advance(0);
    await closing;
    expect(client.stats()).toMatchObject({ accepted: 2, handedOver: 2, dropped: 0, pending: 0 });
    expect(entries(local)).toHaveLength(1); // the batch, as sent; the partial batch's entry is gone
    expect(noteOf(local)).toMatchObject({ o: 1 }); // claimable at once by the next page
    const stored = JSON.parse(local.getItem(entries(local)[0]!)!) as OdpWireEvent[];
    expect(ids(stored)).toEqual(ids(transport.bodies()[0]!));
    page.hidden();
    page.storage('odp-sdk-opt-out', '1');
    expect(client.isOptedOut()).toBe(false);
    expect(transport.calls).toHaveLength(1);
  });

  it('storage errors show in stats(); without storage or with maxStoredBytes 0 there is no journal and none are counted', async () => {
    const local = new FakeStorage();
    local.quotaBytes = 0;
    const { client, clock } = pageClient(undefined, { local });
    client.sendOdpEvent(event(1));
    await clock.advance(0);
    expect(client.stats().storageErrors).toBe(2); // the note, then the entry

    const none = pageClient({ datafile: datafile(), odp: { maxStoredBytes: 0, flushIntervalMs: 60_000 } });
    none.client.sendOdpEvent(event(1));
    await none.clock.advance(0);
    expect(none.local.keys()).toEqual([]);
    expect(none.client.stats().storageErrors).toBe(0);
    expect(none.clock.delays.filter((d) => d === 0)).toEqual([]); // nothing to save: no write scheduled

    const page = new FakePage();
    const bare = makeClient({ datafile: datafile() }, { attach: (schedule) => (c) => attachPage(c, undefined, schedule) });
    void page;
    bare.client.sendOdpEvent(event(1));
    expect(bare.client.stats().storageErrors).toBe(0);
  });
});
