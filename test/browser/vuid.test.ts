// The visitor id in Chromium: format, storage key, persistence across loads, opt-out, client_initialized.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { browserSkip, CHROMIUM_ARGS, describeCollector, exampleUrl, expectEvents, launchChromium, startCollector, startStaticServer, waitForClient, waitForIdle, type StaticServer } from './support';

declare const window: { odpClient: { getVuid(): string | null }; isSecureContext: boolean; crypto: { randomUUID?: unknown } };

let browser: Browser;
let site: StaticServer;

describe('the visitor id in Chromium', { skip: browserSkip, timeout: 2 * 60_000 }, () => {
  before(async () => {
    // One at a time, so that a browser that fails to start leaves no server behind (after() closes what exists).
    site = await startStaticServer();
    browser = await launchChromium();
  });
  after(async () => {
    await Promise.all([browser?.close(), site?.close()]);
  });

  test('vuid: "vuid_" + 27 hex digits in localStorage (optimizely-vuid), on every event, kept across loads; vuid: false removes it', async () => {
    const collector = await startCollector();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(exampleUrl(site, collector, 'script-tag/index.html'));
      await waitForClient(page);
      const vuid = await page.evaluate(() => window.odpClient.getVuid());
      assert.match(vuid ?? '', /^vuid_[0-9a-f]{27}$/);
      assert.equal(vuid?.length, 32);
      assert.equal(await page.evaluate(() => localStorage.getItem('optimizely-vuid')), vuid);

      await expectEvents(collector, 2);
      const initialized = collector.events.filter((event) => event.action === 'client_initialized');
      assert.equal(initialized.length, 1, describeCollector(collector));
      assert.equal(initialized[0]?.type, 'fullstack');
      assert.deepEqual(initialized[0]?.identifiers, { vuid });
      assert.ok(collector.events.every((event) => event.identifiers.vuid === vuid), 'every event carries the vuid');

      await page.reload();
      await waitForClient(page);
      assert.equal(await page.evaluate(() => window.odpClient.getVuid()), vuid, 'the same visitor after a reload');
      await expectEvents(collector, 4);
      assert.ok(collector.events.every((event) => event.identifiers.vuid === vuid));

      collector.reset();
      await page.goto(exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false' }));
      await waitForClient(page);
      assert.equal(await page.evaluate(() => window.odpClient.getVuid()), null);
      assert.equal(await page.evaluate(() => localStorage.getItem('optimizely-vuid')), null, 'vuid: false removes the stored id');
      await expectEvents(collector, 1);
      await waitForIdle(page); // the page holds nothing more: no client_initialized can still come
      assert.deepEqual(collector.events.map((event) => event.action), ['pageview'], 'no client_initialized without a vuid');
      assert.equal(collector.events[0]?.identifiers.vuid, undefined);
    } finally {
      await context.close();
      await collector.close();
    }
  });

  test('an insecure context (an http: page that is not loopback): ids come from crypto.getRandomValues, as v4 UUIDs', async () => {
    // 127.0.0.1 is a secure context; a name that resolves to it is not, so the page lacks crypto.randomUUID.
    const host = 'odp-insecure.test';
    const insecure = await launchChromium({ args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${host} 127.0.0.1`] });
    const collector = await startCollector();
    try {
      const page = await insecure.newPage();
      await page.goto(exampleUrl(site, collector, 'script-tag/index.html').replace('127.0.0.1', host));
      await waitForClient(page);
      assert.deepEqual(await page.evaluate(() => [window.isSecureContext, typeof window.crypto.randomUUID]), [false, 'undefined']);
      assert.match((await page.evaluate(() => window.odpClient.getVuid())) ?? '', /^vuid_[0-9a-f]{27}$/);
      await expectEvents(collector, 2);
      const ids = collector.events.map((event) => event.data.idempotence_id);
      for (const id of ids) assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(new Set(ids).size, ids.length, describeCollector(collector));
    } finally {
      await insecure.close();
      await collector.close();
    }
  });
});
