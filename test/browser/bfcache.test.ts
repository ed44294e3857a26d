// Back/forward cache, in every engine: a page left by an ordinary navigation goes into the cache
// (`pagehide` with persisted: true, in Chromium, Firefox and WebKit alike for these pages) and comes
// back on history.back().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCollector, describeEngines, exampleUrl, expectEvents, waitForIdle } from './support';

declare const window: { odpClient: { sendOdpEvent(event: object): unknown }; restoredFromCache?: boolean; marker?: number };

describeEngines('bfcache', { timeout: 2 * 60_000 }, (suite) => {
  test('bfcache: events sent before leaving arrive once, and the client keeps working after the page is restored', async () => {
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
      const actions = collector.events.map((event) => event.action);
      assert.equal(actions.filter((action) => action === 'before').length, 5, describeCollector(collector));
      assert.equal(actions.filter((action) => action === 'after').length, 3, describeCollector(collector));
      assert.equal(collector.stats().duplicates, 0, describeCollector(collector));
    });
  });
});
