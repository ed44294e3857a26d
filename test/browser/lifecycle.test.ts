// A page's life and death in every engine, with a collector that fails (503 + Retry-After) and
// then recovers: reloads, a navigation then a new tab, two tabs, two clients on one page, a page
// left mid-request, offline through a reload. Every accepted event must arrive; a duplicate is
// allowed only as a copy with the same idempotence_id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCollector, describeEngines, exampleUrl, expectEvents, waitForClient, type Collector, type EnginePage } from './support';

interface PageStats {
  accepted: number;
  requests: number;
  pending: number;
  inFlight: number;
  queued: number;
  unconfirmed: number;
  delivered: number;
  dropped: number;
  handedOver: number;
  droppedByReason: Record<string, number>;
}
interface PageClient {
  sendOdpEvent(event: object): { code: string } | null;
  stats(): PageStats;
  isReady(): boolean;
  isOptedOut(): boolean;
  setOptOut(optedOut: boolean): void;
}
declare const window: { odpClient: PageClient; secondClient?: PageClient; odpSdk: { createInstance(config: object): PageClient }; restored?: boolean };

describeEngines("a page's life and death", { timeout: 5 * 60_000 }, (suite) => {
  function sendMany(page: EnginePage, n: number, tag: string, client: 'odpClient' | 'secondClient' = 'odpClient', padding = 0): Promise<Array<string | null>> {
    return page.evaluate(
      ({ n, tag, client, padding }) =>
        Array.from({ length: n }, (_, i) => window[client]!.sendOdpEvent({ action: tag, identifiers: { fs_user_id: `u${i}` }, data: { i, pad: 'x'.repeat(padding) } })?.code ?? null),
      { n, tag, client, padding },
    );
  }

  /** Events of the SDK's kept in this origin's localStorage (batches and partial batches, every client). */
  function storedEvents(page: EnginePage): Promise<number> {
    return page.evaluate(() =>
      Object.keys(localStorage)
        .filter((key) => key.startsWith('odp-sdk:'))
        .reduce((sum, key) => sum + (JSON.parse(localStorage.getItem(key)!) as unknown[]).length, 0),
    );
  }

  /** Waits until `n` distinct events tagged `tag` arrived (copies with the same id may come too). */
  async function distinctArrived(collector: Collector, tag: string, n: number, timeoutMs = 15_000): Promise<void> {
    const count = () => new Set(collector.events.filter((event) => event.action === tag).map((event) => event.data.idempotence_id)).size;
    for (let waited = 0; count() < n; waited += 50) {
      if (waited > timeoutMs) throw new Error(`only ${count()} of ${n} distinct '${tag}' events arrived within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Every event tagged `tag` arrived, and every duplicate is a copy of one with the same id and content. */
  function assertAllOnce(collector: Collector, tag: string, expected: number): { received: number; duplicates: number } {
    const tagged = collector.events.filter((event) => event.action === tag);
    const byId = new Map<unknown, string>();
    for (const event of tagged) {
      const json = JSON.stringify(event);
      const seen = byId.get(event.data.idempotence_id);
      assert.ok(seen === undefined || seen === json, `a duplicate id with other content: ${json}`);
      byId.set(event.data.idempotence_id, json);
    }
    const indexes = new Set(tagged.map((event) => event.data.i));
    assert.equal(byId.size, expected, `distinct ids of '${tag}'`);
    assert.equal(indexes.size, expected, `distinct events of '${tag}'`);
    return { received: tagged.length, duplicates: tagged.length - byId.size };
  }

  const RETRY_AFTER = { status: 503, retryAfter: '2' };

  test('503 + Retry-After, page reloaded: nothing is sent over the server at page hide, and all 20 arrive after the reload once it recovers', async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      // Long enough that no retry falls inside the test's own steps: the lane waits it out, whole.
      collector.setFaults({ status: 503, retryAfter: '8' }); // longer than a reload takes on a loaded machine
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
      const page = await open(url);
      await page.waitFor(() => window.odpClient.stats().requests === 1 && window.odpClient.stats().inFlight === 0, undefined, 10_000);
      assert.deepEqual(await sendMany(page, 20, 'reload'), Array(20).fill(null));
      await page.waitFor(() => window.odpClient.stats().pending === 21, undefined, 10_000);
      assert.equal(await storedEvents(page), 21);
      const requestsBefore = collector.batches.length;
      await page.reload();
      await waitForClient(page);
      // The new page took the 21 over and honours the 8 s the server asked for: no request yet, all still stored.
      assert.equal(collector.batches.length, requestsBefore, 'no request went out over the Retry-After at page hide or reload');
      assert.equal(await storedEvents(page), 22);
      collector.setFaults({});
      await expectEvents(collector, 22, 25_000, logs); // after what is left of the 8 s
      const figures = assertAllOnce(collector, 'reload', 20);
      await page.waitFor(() => Object.keys(localStorage).every((key) => !key.startsWith('odp-sdk:')), undefined, 5000);
      console.log(`# [${suite.name}] reload under 503 + Retry-After: 20 sent, ${figures.received} received, ${figures.duplicates} duplicates (same id); ${describeCollector(collector)}`);
    });
  });

  /**
   * Firefox, driven over WebDriver BiDi, sometimes runs a closing tab's `pagehide` with no effect on
   * storage (measured: a beacon sent from the same handler arrives; the note's write does not, nor did
   * a BroadcastChannel message, tried too), so other tabs see it live for the stale time (an hour). There
   * the first tab leaves the site for another page (a navigation, whose writes always land) before it
   * is closed. See README, "What remains uncovered".
   */
  const closeLosesWrites = suite.name === 'firefox';
  const closing = closeLosesWrites ? 'leaves the site, then its tab is closed (this engine may drop a closing tab\'s last writes)' : 'is closed';
  test(`two tabs: the first ${closing} while the server fails; the second takes its events over (under a Web Lock) and all arrive`, async () => {
    await suite.world(async ({ site, collector, logs, open }) => {
      collector.setFaults(RETRY_AFTER);
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
      const first = await open(url);
      await sendMany(first, 20, 'tabs');
      await first.waitFor(() => window.odpClient.stats().requests >= 3 && window.odpClient.stats().inFlight === 0, undefined, 10_000);
      const second = await open(url);
      assert.equal(await second.evaluate(() => 'locks' in navigator), true);
      await sendMany(second, 5, 'second');
      // While the first tab lives, the second leaves its events alone.
      assert.equal(await second.evaluate(() => window.odpClient.stats().pending), 6);
      if (closeLosesWrites) await first.goto(`${site.url}/blank.html`);
      await first.close();
      await second.waitFor(() => window.odpClient.stats().pending >= 27, undefined, 10_000);
      collector.setFaults({});
      await expectEvents(collector, 27, 20_000, logs); // 21 from the first tab, 6 from the second
      const tabs = assertAllOnce(collector, 'tabs', 20);
      assertAllOnce(collector, 'second', 5);
      console.log(`# [${suite.name}] two tabs, first ${closeLosesWrites ? 'left then closed' : 'closed'} under 503: 20 + 5 sent, ${tabs.received} + 5 received, ${tabs.duplicates} duplicates; ${describeCollector(collector)}`);
    });
  });

  test(`three tabs without Web Locks: the first ${closing} while the server fails; the other two take its events over unlocked (one or both); every event arrives, a duplicate only with the same id`, async () => {
    await suite.world(
      async ({ site, collector, logs, open }) => {
        collector.setFaults(RETRY_AFTER);
        const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
        const first = await open(url);
        await sendMany(first, 20, 'tabs');
        await first.waitFor(() => window.odpClient.stats().requests >= 3 && window.odpClient.stats().inFlight === 0, undefined, 10_000);
        const others = [await open(url), await open(url)] as const;
        const tags = ['second', 'third'] as const;
        for (const [i, page] of others.entries()) {
          assert.equal(await page.evaluate(() => 'locks' in navigator), false);
          await sendMany(page, 5, tags[i]!);
        }
        // While the first tab lives, the others leave its events alone.
        for (const page of others) assert.equal(await page.evaluate(() => window.odpClient.stats().pending), 6);
        if (closeLosesWrites) await first.goto(`${site.url}/blank.html`);
        await first.close();
        // The first tab's 21 events are taken by one of the two or, racing, by both (the same events, the same ids).
        const pending = async () => (await Promise.all(others.map((page) => page.evaluate(() => window.odpClient.stats().pending)))).reduce((a, b) => a + b, 0);
        for (let waited = 0; (await pending()) < 33; waited += 100) {
          if (waited > 10_000) throw new Error(`the first tab's events were not taken over: ${await pending()} pending in the other two, 33 expected`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        collector.setFaults({});
        await expectEvents(collector, 33, 20_000, logs); // 21 from the first tab, 6 from each other one
        for (const [tag, n] of [['tabs', 20], ['second', 5], ['third', 5]] as const) await distinctArrived(collector, tag, n, 20_000); // copies count in the 33
        const tabs = assertAllOnce(collector, 'tabs', 20);
        for (const tag of tags) assertAllOnce(collector, tag, 5);
        console.log(`# [${suite.name}] three tabs without Web Locks, first ${closeLosesWrites ? 'left then closed' : 'closed'} under 503: 20 + 5 + 5 sent, ${tabs.received} + 5 + 5 received, ${tabs.duplicates} duplicates (same id); ${describeCollector(collector)}`);
      },
      { initScript: 'delete Navigator.prototype.locks;' },
    );
  });

  test('two clients on one page: each keeps its own stored events; a reload takes both over, none twice', async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      collector.setFaults(RETRY_AFTER);
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
      const page = await open(url);
      await page.evaluate(
        ({ collectorUrl }) => {
          window.secondClient = window.odpSdk.createInstance({
            sdkKey: 'BrowserTestKey',
            datafileUrlTemplate: `${collectorUrl}/datafiles/{sdkKey}.json`,
            odp: { flushIntervalMs: 50 },
          });
        },
        { collectorUrl: collector.url },
      );
      await page.waitFor(() => window.secondClient!.isReady());
      await sendMany(page, 10, 'one');
      await sendMany(page, 10, 'two', 'secondClient');
      await page.waitFor(
        () => window.odpClient.stats().requests >= 2 && window.secondClient!.stats().requests >= 1 && window.odpClient.stats().inFlight + window.secondClient!.stats().inFlight === 0,
      );
      // One stored note per client: neither overwrote the other's entries.
      const owners = await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('odp-sdk~')).length);
      assert.equal(owners, 2);
      assert.equal(await storedEvents(page), 21);
      // Reloaded while the server still fails: a retry that fell due just before the reload cannot be
      // delivered unseen by the page (that would be a legitimate duplicate with the same ids).
      await page.reload();
      await waitForClient(page);
      collector.setFaults({});
      await expectEvents(collector, 22, 15_000, logs);
      const one = assertAllOnce(collector, 'one', 10);
      const two = assertAllOnce(collector, 'two', 10);
      assert.equal(one.duplicates + two.duplicates, 0, 'nothing was delivered before the reload, so nothing may arrive twice');
      console.log(`# [${suite.name}] two clients on one page under 503, then a reload: 10 + 10 sent, ${one.received} + ${two.received} received, ${one.duplicates + two.duplicates} duplicates`);
    });
  });

  test('a page left while its request is on the wire: the keep-alive hand-off stays stored (unconfirmed) and the next load sends it again with the same ids', async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
      const page = await open(url);
      await expectEvents(collector, 1, 10_000, logs);
      collector.setFaults({ latencyMs: 1500 });
      await sendMany(page, 10, 'handoff');
      await page.waitFor(() => window.odpClient.stats().inFlight === 10, undefined, 5000);
      assert.equal(await storedEvents(page), 10, 'in flight, yet stored until a 2xx is seen');
      await page.goto(`${site.url}/blank.html`);
      await expectEvents(collector, 11, 10_000, logs); // the browser delivered the hand-off after the page went
      assert.equal(await storedEvents(page), 10, 'the page never saw that 2xx: its events stay stored');
      collector.setFaults({});
      await page.goto(url);
      await waitForClient(page);
      await page.waitFor(() => window.odpClient.stats().delivered >= 11, undefined, 10_000);
      const figures = assertAllOnce(collector, 'handoff', 10);
      assert.equal(figures.duplicates, 10, 'at-least-once: sent again, with the same ids');
      console.log(`# [${suite.name}] hand-off then reload: 10 sent, ${figures.received} received (${figures.duplicates} duplicates, same ids)`);
    });
  });

  test('keep-alive budget: queued batches (in no backoff) leave at page hide in chunks under 64 KiB; the rest on the next load', async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', odp: JSON.stringify({ maxConcurrentRequests: 1, batchSize: 10 }) });
      const page = await open(url);
      await expectEvents(collector, 1, 10_000, logs);
      collector.setFaults({ latencyMs: 800 });
      await sendMany(page, 120, 'budget', 'odpClient', 1000);
      // One keep-alive request on the wire (batches merged up to the keep-alive budget), the rest queued behind it.
      await page.waitFor(() => window.odpClient.stats().inFlight > 0 && window.odpClient.stats().queued > 0, undefined, 5000);
      await page.goto(`${site.url}/blank.html`);
      await distinctArrived(collector, 'budget', 30); // the batch on the wire, and keep-alive chunks sent at hide
      collector.setFaults({});
      const atHide = new Set(collector.events.filter((event) => event.action === 'budget').map((event) => event.data.i)).size;
      await page.goto(url);
      await waitForClient(page);
      await distinctArrived(collector, 'budget', 120);
      await page.waitFor(() => window.odpClient.stats().pending === 0, undefined, 10_000);
      const figures = assertAllOnce(collector, 'budget', 120);
      const largest = Math.max(...collector.batches.map((batch) => Buffer.byteLength(batch.body)));
      assert.ok(largest <= 65_536, `largest body ${largest}`);
      assert.ok(atHide > 10 && atHide < 120, `some, not all, went at page hide (${atHide})`);
      console.log(`# [${suite.name}] keep-alive budget: 120 × 1 KB, ${atHide} at page hide, ${figures.received} received in all, ${figures.duplicates} duplicates (same ids), largest body ${largest} B`);
    });
  });

  /** Every accepted event is in exactly one state. */
  function assertBalanced(stats: PageStats): void {
    assert.equal(stats.accepted, stats.delivered + stats.dropped + stats.pending + stats.unconfirmed + stats.handedOver, JSON.stringify(stats));
  }

  test('503 + Retry-After, then a link to another page of the site (the page goes into the back/forward cache), ODP recovers, the site opens in a new tab: it takes the 20 over and all arrive', async () => {
    await suite.world(async ({ site, collector, open }) => {
      collector.setFaults({ status: 503, retryAfter: '3' });
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
      const page = await open(url);
      assert.deepEqual(await sendMany(page, 20, 'navigated'), Array(20).fill(null));
      await page.waitFor(() => window.odpClient.stats().pending === 21 && window.odpClient.stats().inFlight === 0);
      await page.goto(`${site.url}/blank.html`); // another page of the site, without the SDK
      collector.setFaults({});
      const tab = await open(url);
      await distinctArrived(collector, 'navigated', 20, 20_000);
      const figures = assertAllOnce(collector, 'navigated', 20);
      await tab.waitFor(() => Object.keys(localStorage).every((key) => !key.startsWith('odp-sdk:')));
      console.log(`# [${suite.name}] navigation then a new tab under 503 + Retry-After: 20 sent, ${figures.received} received, ${figures.duplicates} duplicates (same id); ${describeCollector(collector)}`);
    });
  });

  test('back from the back/forward cache after a new tab took its events over: the restored page reconciles (its 21 are handed over, not sent again, counted once) and goes on sending', async () => {
    await suite.world(async ({ site, collector, open }) => {
      collector.setFaults({ status: 503, retryAfter: '3' });
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
      const page = await open(url);
      await page.evaluate(() => addEventListener('pageshow', (event) => event.persisted && (window.restored = true)));
      await sendMany(page, 20, 'away');
      await page.waitFor(() => window.odpClient.stats().pending === 21 && window.odpClient.stats().inFlight === 0);
      await page.goto(`${site.url}/blank.html`);
      const tab = await open(url);
      await tab.waitFor(() => window.odpClient.stats().accepted >= 22); // the 21 taken over, and its own pageview
      collector.setFaults({});
      await distinctArrived(collector, 'away', 20, 20_000);
      await page.back();
      await page.waitFor(() => window.restored === true);
      await page.waitFor(() => window.odpClient.stats().handedOver === 21 && window.odpClient.stats().pending === 0);
      await sendMany(page, 3, 'back');
      await distinctArrived(collector, 'back', 3);
      await page.waitFor(() => window.odpClient.stats().delivered === 3);
      const stats = await page.evaluate(() => window.odpClient.stats());
      assertBalanced(stats);
      const away = assertAllOnce(collector, 'away', 20);
      assertAllOnce(collector, 'back', 3);
      assert.equal(away.duplicates, 0, 'the restored page sent none of what the new tab took');
      assert.deepEqual({ accepted: stats.accepted, handedOver: stats.handedOver, delivered: stats.delivered, dropped: stats.dropped }, { accepted: 24, handedOver: 21, delivered: 3, dropped: 0 });
      console.log(`# [${suite.name}] bfcache restore after a take-over: 20 + 3 sent, ${away.received} + 3 received, ${away.duplicates} duplicates; restored page: ${JSON.stringify({ accepted: stats.accepted, handedOver: stats.handedOver, delivered: stats.delivered })}`);
    });
  });

  test('opt-out across tabs: one tab opts out while the server fails; the other forgets its stored events too (counted), nothing is sent; opting back in in either resumes both', async () => {
    await suite.world(async ({ site, collector, logs, open }) => {
      collector.setFaults({ status: 503, retryAfter: '30' });
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
      const first = await open(url);
      const second = await open(url);
      await sendMany(first, 5, 'before');
      await sendMany(second, 5, 'before');
      await second.waitFor(() => window.odpClient.stats().pending === 6 && window.odpClient.stats().inFlight === 0);
      await first.waitFor(() => window.odpClient.stats().pending === 6 && window.odpClient.stats().inFlight === 0);
      await first.evaluate(() => window.odpClient.setOptOut(true));
      await second.waitFor(() => window.odpClient.isOptedOut());
      const seconds = await second.evaluate(() => window.odpClient.stats());
      assert.equal(seconds.droppedByReason.optedOut, 6, JSON.stringify(seconds));
      assertBalanced(seconds);
      assert.deepEqual(await second.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('odp-sdk')).sort()), ['odp-sdk-opt-out']);
      collector.setFaults({});
      await second.reload();
      await waitForClient(second);
      assert.equal(await second.evaluate(() => window.odpClient.isOptedOut()), true);
      assert.equal(collector.events.length, 0, 'nothing was sent while the server failed, and nothing after the opt-out');
      await second.evaluate(() => window.odpClient.setOptOut(false));
      await first.waitFor(() => !window.odpClient.isOptedOut());
      await sendMany(first, 3, 'after', 'odpClient');
      await sendMany(second, 3, 'after-second', 'odpClient');
      await expectEvents(collector, 6, 10_000, logs);
      assertAllOnce(collector, 'after', 3);
      assertAllOnce(collector, 'after-second', 3);
      assert.equal(collector.events.filter((event) => event.action === 'before').length, 0);
      console.log(`# [${suite.name}] opt-out across tabs: 10 sent before (+2 pageviews), 0 received, 12 dropped as optedOut; 6 sent after opting back in, ${collector.events.length} received`);
    });
  });

  const simulated = suite.traits.offline === 'simulated' ? ' (offline simulated in the page: this driver cannot take the engine offline)' : '';
  test(`offline through a reload: the next load sends the stored events with their original ids${simulated}`, async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      const url = exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' });
      const page = await open(url);
      await expectEvents(collector, 1, 10_000, logs);
      await context.setOffline(true);
      await sendMany(page, 12, 'offline');
      await page.waitFor(() => window.odpClient.stats().pending === 12, undefined, 5000);
      const ids = await page.evaluate(() =>
        Object.keys(localStorage)
          .filter((key) => key.startsWith('odp-sdk:'))
          .flatMap((key) => (JSON.parse(localStorage.getItem(key)!) as Array<{ data: { idempotence_id: string } }>).map((event) => event.data.idempotence_id)),
      );
      assert.equal(ids.length, 12);
      assert.equal(collector.batches.length, 1, 'no request while offline');
      await page.goto(`${site.url}/blank.html`).catch(() => {}); // offline: the navigation itself may fail
      await context.setOffline(false);
      await page.goto(url);
      await waitForClient(page);
      await distinctArrived(collector, 'offline', 12);
      const figures = assertAllOnce(collector, 'offline', 12);
      console.log(`# [${suite.name}] offline through a reload: 12 sent, ${figures.received} received, ${figures.duplicates} duplicates`);
      const received = collector.events.filter((event) => event.action === 'offline').map((event) => event.data.idempotence_id);
      assert.deepEqual([...new Set(received)].sort(), [...ids].sort());
    });
  });
});
