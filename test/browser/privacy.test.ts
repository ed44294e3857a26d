// Opt-out and the Global Privacy Control signal in every engine: the choice outlives a reload and
// is applied before anything is sent; opting out clears what was stored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEngines, exampleUrl, expectEvents, waitForClient, type EnginePage } from './support';

interface PageClient {
  sendOdpEvent(event: object): { code: string } | null;
  setOptOut(optedOut: boolean): void;
  isOptedOut(): boolean;
  getVuid(): string | null;
  stats(): { pending: number; requests: number; inFlight: number; droppedByReason: Record<string, number> };
}
declare const window: { odpClient: PageClient };

describeEngines('privacy', { timeout: 2 * 60_000 }, (suite) => {
  const sdkKeys = (page: EnginePage) => page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('odp-sdk') || key === 'optimizely-vuid').sort());

  test('opting out discards what was stored and the visitor id; the choice outlives a reload and applies before anything is sent', async () => {
    await suite.world(async ({ site, collector, logs, open }) => {
      collector.setFaults({ status: 503, retryAfter: '30' });
      const url = exampleUrl(site, collector, 'script-tag/index.html', { flushIntervalMs: '50' });
      const page = await open(url);
      await page.evaluate(() => {
        for (let i = 0; i < 10; i++) window.odpClient.sendOdpEvent({ action: 'stored', identifiers: { fs_user_id: `u${i}` } });
      });
      await page.waitFor(() => window.odpClient.stats().pending === 12 && window.odpClient.stats().inFlight === 0);
      assert.ok((await sdkKeys(page)).some((key) => key.startsWith('odp-sdk:')), 'events are stored while the server fails');
      assert.ok((await sdkKeys(page)).includes('optimizely-vuid'));
      await page.evaluate(() => window.odpClient.setOptOut(true));
      const stats = await page.evaluate(() => window.odpClient.stats());
      assert.equal(stats.droppedByReason.optedOut, 12, 'client_initialized, the pageview and 10 events');
      assert.deepEqual(await sdkKeys(page), ['odp-sdk-opt-out'], 'nothing kept but the choice itself');
      collector.reset();
      collector.setFaults({});
      await page.reload();
      await waitForClient(page);
      assert.equal(await page.evaluate(() => window.odpClient.isOptedOut()), true);
      assert.equal(await page.evaluate(() => window.odpClient.getVuid()), null);
      assert.equal(await page.evaluate(() => window.odpClient.sendOdpEvent({ action: 'x', identifiers: { fs_user_id: 'u' } })?.code), 'optedOut');
      await page.evaluate(() => window.odpClient.setOptOut(false));
      await page.evaluate(() => window.odpClient.sendOdpEvent({ action: 'back', identifiers: { fs_user_id: 'u' } }));
      await expectEvents(collector, 2, 10_000, logs); // client_initialized for the new visitor id, and 'back'
      assert.deepEqual(collector.events.map((event) => event.action).sort(), ['back', 'client_initialized'], 'nothing was sent while opted out (not even the pageview)');
    });
  });

  test('honorGlobalPrivacyControl: a browser sending GPC starts opted out, before anything is sent', async () => {
    // Put first in each page's head by the test site: it runs before any page script.
    const initScript = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });";
    await suite.world(async ({ site, collector, logs, open }) => {
      // Sent at once if it were sent at all: before the second page even opens.
      const url = exampleUrl(site, collector, 'script-tag/index.html', { flushIntervalMs: '0', config: JSON.stringify({ honorGlobalPrivacyControl: true }) });
      const page = await open(url);
      assert.equal(await page.evaluate(() => (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl), true);
      assert.equal(await page.evaluate(() => window.odpClient.isOptedOut()), true);
      await page.evaluate(() => window.odpClient.sendOdpEvent({ action: 'gpc', identifiers: { fs_user_id: 'u' } }));
      const other = await open(exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false' }));
      await expectEvents(collector, 1, 10_000, logs); // only the pageview of the page that does not honour GPC
      assert.deepEqual(collector.events.map((event) => event.action), ['pageview']);
      await other.close();
    }, { initScript });
  });
});
