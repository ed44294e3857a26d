// The browser builds in every engine (Chromium, Firefox, WebKit): batches reach a cross-origin
// collector, and events survive page unloads, offline spells and a page that is not ready.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../support/helpers';
import { describeCollector, describeEngines, exampleUrl, expectEvents, sleep, type Collector, type EnginePage } from './support';

interface PageClient {
  sendOdpEvent(event: object): { code: string; message: string } | null;
  stats(): { requests: number; queued: number; inFlight: number; delivered: number; storageErrors?: number };
  isReady(): boolean;
  close(options?: { timeoutMs?: number }): Promise<void>;
}
declare const window: { odpClient: PageClient; odpSdk: { createInstance(config: object): PageClient } };

/** Sends `n` events from the page, tagged with `tag` and their index. */
function sendMany(page: EnginePage, n: number, tag: string, extra: Record<string, string> = {}): Promise<Array<string | null>> {
  return page.evaluate(
    ({ n, tag, extra }) =>
      Array.from({ length: n }, (_, i) => window.odpClient.sendOdpEvent({ action: tag, identifiers: { fs_user_id: `u${i}` }, data: { i, ...extra } })?.code ?? null),
    { n, tag, extra },
  );
}

const eventsTagged = (collector: Collector, tag: string) => collector.events.filter((event) => event.action === tag);

describeEngines('the browser builds', { timeout: 5 * 60_000 }, (suite) => {
  test('script tag: the UMD bundle sends batches cross-origin, with x-api-key and a preflight, under a CSP without eval', async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      const page = await open(exampleUrl(site, collector, 'script-tag/index.html'));
      await expectEvents(collector, 2, 10_000, logs); // client_initialized and the pageview, in one batch
      await page.evaluate(() => {
        for (let i = 0; i < 3; i++) document.querySelector<HTMLButtonElement>('#buy')!.click();
      });
      await expectEvents(collector, 5, 10_000, logs);
      const actions = collector.events.map((event) => event.action).sort();
      assert.deepEqual(actions, ['client_initialized', 'pageview', 'purchased', 'purchased', 'purchased']);
      assert.ok(collector.batches.some((batch) => JSON.parse(batch.body).length > 1), 'events share requests');
      assert.ok(collector.batches.every((batch) => batch.status === 202 && batch.headers['x-api-key'] === 'W4WzcEs-ABgXorzY7h1LCQ'));
      assert.ok(collector.stats().preflights >= 1, 'the cross-origin POST was preflighted');
      const purchase = collector.events.find((event) => event.action === 'purchased');
      assert.equal(purchase?.data.data_source, 'odp-sdk');
      assert.equal(purchase?.data.item, 'shirt');
      assert.ok(!logs.some((line) => line.startsWith('pageerror') || line.includes('Content Security Policy')), logs.join('\n'));
    });
  });

  test('ESM: the SPA example imports the browser build and sends a pageview per route', async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      const page = await open(exampleUrl(site, collector, 'spa/index.html'));
      for (const route of ['#/shop', '#/cart']) {
        await page.evaluate((href) => document.querySelector<HTMLAnchorElement>(`a[href="${href}"]`)!.click(), route);
        await page.waitFor((href) => location.hash === href.slice(1) || location.hash === href, route);
      }
      await expectEvents(collector, 4, 10_000, logs);
      const pages = collector.events.filter((event) => event.action === 'pageview').map((event) => event.data.page);
      assert.deepEqual(pages, ['/', '/shop', '/cart']);
      assert.equal(collector.events.filter((event) => event.action === 'client_initialized').length, 1);
      const bundle = await page.evaluate(() => performance.getEntriesByType('resource').map((entry) => entry.name).filter((name) => name.includes('/dist/')));
      assert.deepEqual(bundle.map((name) => new URL(name).pathname), ['/dist/browser/index.mjs', '/dist/segments/index.mjs']);
    });
  });

  test('unload: 50 events sent just before navigating away all arrive, once', async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      collector.setFaults({ latencyMs: 150 }); // so that requests are still in flight when the page goes
      const page = await open(exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false' }));
      await expectEvents(collector, 1, 10_000, logs); // the pageview
      const codes = await page.evaluate(() => {
        const codes = Array.from({ length: 50 }, (_, i) => window.odpClient.sendOdpEvent({ action: 'unload', identifiers: { fs_user_id: `u${i}` }, data: { i } })?.code ?? null);
        location.href = '/blank.html';
        return codes;
      });
      assert.deepEqual(codes, Array(50).fill(null));
      await page.waitFor(() => location.pathname === '/blank.html');
      await expectEvents(collector, 51, 10_000, logs);
      await sleep(500); // a window in which nothing more may arrive (the page is gone; no event can be awaited)
      const unload = eventsTagged(collector, 'unload');
      console.log(`# [${suite.name}] unload: sent 50, delivered ${unload.length} (distinct ${new Set(unload.map((e) => e.data.idempotence_id)).size}); ${describeCollector(collector)}`);
      assert.equal(unload.length, 50);
      assert.equal(new Set(unload.map((event) => event.data.i)).size, 50);
      assert.equal(collector.stats().duplicates, 0);
    });
  });

  const simulated = suite.traits.offline === 'simulated' ? ' (offline simulated in the page: this driver cannot take the engine offline)' : '';
  test(`offline: delivery is held while offline (no retry storm) and resumes on online${simulated}`, async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      const page = await open(exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false', flushIntervalMs: '50' }));
      await expectEvents(collector, 1, 10_000, logs);
      await context.setOffline(true);
      assert.equal(await page.evaluate(() => navigator.onLine), false);
      const before = await page.evaluate(() => window.odpClient.stats().requests);
      await sendMany(page, 15, 'offline');
      await sleep(1500); // a window in which no request may go out (30 flush intervals)
      const during = await page.evaluate(() => window.odpClient.stats());
      assert.equal(during.requests, before, 'no request while offline');
      assert.equal(during.queued, 15);
      await context.setOffline(false);
      await expectEvents(collector, 16, 10_000, logs);
      const offline = eventsTagged(collector, 'offline');
      console.log(`# [${suite.name}] offline: sent 15, delivered ${offline.length}; requests while offline: ${during.requests - before}; ${describeCollector(collector)}`);
      assert.equal(offline.length, 15);
      assert.equal(collector.stats().duplicates, 0);
    });
  });

  test('not ready: an event sent before the datafile arrives is discarded with a console warning', async () => {
    await suite.world(async ({ site, collector, context, logs, open }) => {
      const page = await open(exampleUrl(site, collector, 'script-tag/index.html', { vuid: 'false' }));
      const code = await page.evaluate(() => {
        const client = window.odpSdk.createInstance({ sdkKey: 'NeverReady', datafileUrlTemplate: 'http://127.0.0.1:9/{sdkKey}.json', logLevel: 'warn' });
        const error = client.sendOdpEvent({ action: 'early', identifiers: { fs_user_id: 'u1' } });
        void client.close({ timeoutMs: 0 });
        return error?.code;
      });
      assert.equal(code, 'sdkNotReady');
      await until(() => logs.some((line) => line.startsWith('warn: [odp-sdk]') && line.includes('not ready')), 5000, `the console warning; console:\n${logs.join('\n')}`);
    });
  });

  test('script tag + segments add-on: a user context links the visitor and fetches its qualified segments (GraphQL, cross-origin)', async () => {
    await suite.world(
      async ({ site, collector, logs, open }) => {
        const page = await open(exampleUrl(site, collector, 'script-tag/index.html', { userId: 'shopper-7' }));
        await page.waitFor(() => (window as unknown as { odpUser?: { qualifiedSegments: string[] | null } }).odpUser?.qualifiedSegments != null);
      const segments = await page.evaluate(() => {
        const user = (window as unknown as { odpUser: { qualifiedSegments: string[]; isQualifiedFor(s: string): boolean } }).odpUser;
        return { list: user.qualifiedSegments, hasEmail: user.isQualifiedFor('has_email'), cart: user.isQualifiedFor('cart_abandoner') };
      });
      assert.deepEqual(segments, { list: ['has_email'], hasEmail: true, cart: false });
      await expectEvents(collector, 3, 10_000, logs);
      const identified = collector.events.find((event) => event.action === 'identified');
      assert.equal(identified?.identifiers.fs_user_id, 'shopper-7');
      assert.match(identified?.identifiers.vuid ?? '', /^vuid_[0-9a-f]{27}$/);
      assert.equal(collector.stats().graphqlRequests, 1);
      },
      { collector: { segments: { 'shopper-7': ['has_email'] } } },
    );
  });

  test('SPA (ES modules) + odp-sdk/segments: a user context links the visitor and fetches its qualified segments', async () => {
    await suite.world(
      async ({ site, collector, logs, open }) => {
        const page = await open(exampleUrl(site, collector, 'spa/index.html', { userId: 'shopper-9' }));
        await page.waitFor(() => (window as unknown as { odpUser?: { qualifiedSegments: string[] | null } }).odpUser?.qualifiedSegments != null);
        const segments = await page.evaluate(() => {
          const user = (window as unknown as { odpUser: { qualifiedSegments: string[]; isQualifiedFor(s: string): boolean } }).odpUser;
          return { list: user.qualifiedSegments, cart: user.isQualifiedFor('cart_abandoner'), email: user.isQualifiedFor('has_email') };
        });
        assert.deepEqual(segments, { list: ['cart_abandoner'], cart: true, email: false });
        await expectEvents(collector, 3, 10_000, logs); // client_initialized, the pageview, identified
        const identified = collector.events.find((event) => event.action === 'identified');
        assert.equal(identified?.identifiers.fs_user_id, 'shopper-9');
        assert.equal(collector.stats().graphqlRequests, 1);
      },
      { collector: { segments: { 'shopper-9': ['cart_abandoner'] } } },
    );
  });
});
