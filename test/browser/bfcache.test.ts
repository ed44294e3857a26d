// Back/forward cache: Chromium launched without Playwright's --disable-back-forward-cache.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { browserSkip, describeCollector, exampleUrl, expectEvents, launchChromium, startCollector, startStaticServer, waitForClient, waitForIdle, type StaticServer } from './support';

declare const window: { odpClient: { sendOdpEvent(event: object): unknown }; restoredFromCache?: boolean; marker?: number };

let browser: Browser;
let site: StaticServer;

describe('bfcache in Chromium', { skip: browserSkip, timeout: 2 * 60_000 }, () => {
  before(async () => {
    // One at a time, so that a browser that fails to start leaves no server behind (after() closes what exists).
    site = await startStaticServer();
    browser = await launchChromium({ ignoreDefaultArgs: ['--disable-back-forward-cache'] });
  });
  after(async () => {
    await Promise.all([browser?.close(), site?.close()]);
  });

  test('bfcache: events sent before leaving arrive once, and the client keeps working after the page is restored', async () => {
    const collector = await startCollector();
    const context = await browser.newContext();
    const logs: string[] = [];
    try {
      const page = await context.newPage();
      page.on('console', (message) => logs.push(`${message.type()}: ${message.text()}`));
      await page.goto(exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false' }));
      await waitForClient(page);
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
      await page.goBack({ waitUntil: 'commit', timeout: 10_000 }); // a restore fires no load event
      await page.waitForFunction(() => window.restoredFromCache === true, undefined, { timeout: 5000 });
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
    } finally {
      await context.close();
      await collector.close();
    }
  });
});
