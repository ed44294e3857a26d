// Back/forward cache, in every engine: a page left by an ordinary navigation goes into the cache
// (`pagehide` with persisted: true, in Chromium, Firefox and WebKit alike for these pages) and comes
// back on history.back().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCollector, describeEngines, exampleUrl, expectEvents, waitForIdle } from './support';

declare const window: { odpClient: { sendOdpEvent(event: object): unknown }; restoredFromCache?: boolean; marker?: number };

describeEngines('bfcache', { timeout: 2 * 60_000 }, (suite) => {
  // A request from before the cache still unanswered a second after the restore is sent again, with
  // the same ids: Firefox never settles one that was in flight as the page entered the cache (so its
  // events arrive twice there); Chromium and WebKit settle it, at times just after `pageshow`.
  test('bfcache: events sent before leaving arrive (a request still unanswered a second after the restore goes again, same ids), and the client keeps working after the page is restored', async () => {
    await suite.world(async ({ site, collector, logs, open }) => {
      const page = await open(exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false' }));
      await expectEvents(collector, 1, 10_000, logs);
      await page.evaluate(() => {
        window.marker = 1;
        addEventListener('pageshow', (event) => {
          if (event.persisted) window.restoredFromCache = true;
        });
        for (let i = 0; i < 5; i++) window.odpClient.sendOdpEvent({ action: 'before', identifiers: { fs_user_id: `u${i}` } });
      });
      await page.goto(`${site.url}/blank.html`);
      await expectEvents(collector, 6, 10_000, logs);
      await page.back(); // a restore fires no load event
      await page.waitFor(() => window.restoredFromCache === true);
      assert.equal(await page.evaluate(() => window.marker), 1, 'the same page, restored from the bfcache');
      await page.evaluate(() => {
        for (let i = 0; i < 3; i++) window.odpClient.sendOdpEvent({ action: 'after', identifiers: { fs_user_id: `u${i}` } });
      });
      await expectEvents(collector, 9, 10_000, logs);
      await waitForIdle(page); // the restored page holds nothing more: the counts are final
      const tagged = (action: string) => collector.events.filter((event) => event.action === action);
      const distinct = (action: string) => new Set(tagged(action).map((event) => event.data.idempotence_id)).size;
      assert.equal(distinct('before'), 5, describeCollector(collector));
      assert.equal(tagged('after').length, 3, describeCollector(collector));
      // A copy is the same event, id and all; and only the engine that never settles the request sends one.
      const byId = new Map(collector.events.map((event) => [event.data.idempotence_id, JSON.stringify(event)]));
      for (const event of collector.events) assert.equal(JSON.stringify(event), byId.get(event.data.idempotence_id));
      assert.ok(tagged('before').length <= 10, describeCollector(collector)); // at most one copy each
      console.log(`# [${suite.name}] bfcache: 5 + 3 sent, ${tagged('before').length} + ${tagged('after').length} received, ${collector.stats().duplicates} duplicates (same ids)`);
    });
  });
});
