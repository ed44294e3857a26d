// The visitor id in every engine: format, storage key, persistence across loads, client_initialized;
// and ids drawn without crypto.randomUUID in an insecure context.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCollector, describeEngines, exampleUrl, expectEvents, startLoopbackProxy, waitForClient, waitForIdle } from './support';

declare const window: { odpClient: { getVuid(): string | null }; isSecureContext: boolean; crypto: { randomUUID?: unknown } };

/** A name that is not loopback: a page served from it (through the test proxy) is not a secure context. */
const INSECURE_HOST = 'odp-insecure.test';

describeEngines('the visitor id', { timeout: 2 * 60_000 }, (suite) => {
  test('vuid: "vuid_" + 27 hex digits in localStorage (optimizely-vuid), on every event, kept across loads; the default (no vuid option) leaves it alone, an explicit vuid: false removes it', async () => {
    await suite.world(async ({ site, collector, logs, open }) => {
      const page = await open(exampleUrl(site, collector, 'script-tag/index.html'));
      const vuid = await page.evaluate(() => window.odpClient.getVuid());
      assert.match(vuid ?? '', /^vuid_[0-9a-f]{27}$/);
      assert.equal(vuid?.length, 32);
      assert.equal(await page.evaluate(() => localStorage.getItem('optimizely-vuid')), vuid);

      await expectEvents(collector, 2, 10_000, logs);
      const initialized = collector.events.filter((event) => event.action === 'client_initialized');
      assert.equal(initialized.length, 1, describeCollector(collector));
      assert.equal(initialized[0]?.type, 'fullstack');
      assert.deepEqual(initialized[0]?.identifiers, { vuid });
      assert.ok(collector.events.every((event) => event.identifiers.vuid === vuid), 'every event carries the vuid');

      await page.reload();
      await waitForClient(page);
      assert.equal(await page.evaluate(() => window.odpClient.getVuid()), vuid, 'the same visitor after a reload');
      await expectEvents(collector, 4, 10_000, logs);
      assert.ok(collector.events.every((event) => event.identifiers.vuid === vuid));

      // Optimizely's own SDK on the same page owns 'optimizely-vuid': a client made without the vuid option leaves it alone.
      const other = await page.evaluate((collectorUrl) => {
        const sdk = (window as unknown as { odpSdk: { createInstance(config: object): { getVuid(): string | null; close(o: object): Promise<void> } } }).odpSdk;
        const client = sdk.createInstance({ sdkKey: 'BrowserTestKey', datafileUrlTemplate: `${collectorUrl}/datafiles/{sdkKey}.json` });
        const own = client.getVuid();
        return client.close({ timeoutMs: 0 }).then(() => ({ own, stored: localStorage.getItem('optimizely-vuid') }));
      }, collector.url);
      assert.deepEqual(other, { own: null, stored: vuid }, 'the default keeps the stored id');

      collector.reset();
      await page.goto(exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false' }));
      await waitForClient(page);
      assert.equal(await page.evaluate(() => window.odpClient.getVuid()), null);
      assert.equal(await page.evaluate(() => localStorage.getItem('optimizely-vuid')), null, 'vuid: false removes the stored id');
      await expectEvents(collector, 1, 10_000, logs);
      await waitForIdle(page); // the page holds nothing more: no client_initialized can still come
      assert.deepEqual(collector.events.map((event) => event.action), ['pageview'], 'no client_initialized without a vuid');
      assert.equal(collector.events[0]?.identifiers.vuid, undefined);
    });
  });

  test('an insecure context (an http: page that is not loopback, reached through a loopback proxy): ids come from crypto.getRandomValues, as v4 UUIDs', async () => {
    const proxy = await startLoopbackProxy();
    try {
      await suite.world(
        async ({ site, collector, context, logs }) => {
          const page = await context.newPage();
          await page.goto(exampleUrl(site, collector, 'script-tag/index.html').replace('127.0.0.1', INSECURE_HOST));
          await waitForClient(page);
          assert.deepEqual(await page.evaluate(() => [window.isSecureContext, typeof window.crypto.randomUUID]), [false, 'undefined']);
          assert.match((await page.evaluate(() => window.odpClient.getVuid())) ?? '', /^vuid_[0-9a-f]{27}$/);
          await expectEvents(collector, 2, 10_000, logs);
          const ids = collector.events.map((event) => event.data.idempotence_id);
          for (const id of ids) assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          assert.equal(new Set(ids).size, ids.length, describeCollector(collector));
        },
        { context: { proxy: proxy.address } },
      );
    } finally {
      await proxy.close();
    }
  });
});
