// The collector's inspector page in real Chromium, fed by the real SDK (Node) over loopback HTTP:
// what the SDK sends shows up live, a fault switched on the page answers the SDK's next request
// and its retry is marked, and the page works from the keyboard.
// INSPECTOR_SCREENSHOT=docs/inspector.png also saves a screenshot of the page with events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { createInstance } from '../../src/index';
import { launchChromium, startCollector } from './support';

/** The table's rows as text cells: time, answer, batch, type, action, identifiers, data, id, attempt. */
function tableRows(page: Page): Promise<string[][]> {
  return page.$$eval('#rows tr', (rows) => rows.map((row) => Array.from((row as HTMLTableRowElement).cells, (cell) => cell.textContent ?? '')));
}

/** Ids of the idempotence ids in a request body. */
const idsIn = (body: string): string[] => (JSON.parse(body) as Array<{ data: { idempotence_id: string } }>).map((event) => event.data.idempotence_id);

test('the inspector shows SDK events live, switches faults, marks retries, and works from the keyboard', { timeout: 60_000 }, async () => {
  const collector = await startCollector();
  const browser = await launchChromium();
  const client = createInstance({
    sdkKey: 'InspectorKey',
    datafileUrlTemplate: `${collector.url}/datafiles/{sdkKey}.json`, // its ODP host is the collector itself
    logLevel: 'silent',
    odp: { flushIntervalMs: 0, initialBackoffMs: 400, maxBackoffMs: 400 },
  });
  const pageErrors: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 600 } });
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text()); // a CSP refusal shows up here
    });
    await page.goto(`${collector.url}/`);
    await page.getByText('Live: requests appear as they arrive.').waitFor();

    // 1. Events sent with the SDK appear with their action, identifiers, data and id; counters follow.
    await client.onReady({ timeoutMs: 5000 });
    assert.equal(client.sendOdpEvent({ action: 'purchased', identifiers: { fs_user_id: 'user100', email: 'jane@example.com' }, data: { item: 'shirt', price: 50 } }), null);
    assert.equal(client.sendOdpEvent({ action: 'purchased', identifiers: { fs_user_id: 'user101' }, data: { item: 'socks', price: 8.5 } }), null);
    assert.equal(client.sendOdpEvent({ action: 'pageview', identifiers: { fs_user_id: 'user100' }, data: { page: '/checkout' } }), null);
    await client.flush();
    await page.waitForFunction(() => document.querySelectorAll('#rows tr[data-event]').length === 3);
    const rows = await tableRows(page);
    const sent = collector.events.map((event) => event.data.idempotence_id);
    assert.deepEqual(new Set(rows.map((row) => row[7])), new Set(sent), 'every id received is on the page');
    const shirt = rows.find((row) => row[6]?.includes('item=shirt'));
    assert.ok(shirt, JSON.stringify(rows));
    assert.equal(shirt[1], '202');
    assert.equal(shirt[3], 'fullstack');
    assert.equal(shirt[4], 'purchased');
    assert.match(shirt[5] ?? '', /fs_user_id=user100\s+email=jane@example\.com/);
    assert.equal(shirt[6], 'item=shirt  price=50');
    assert.equal(shirt[8], 'first');
    assert.deepEqual(rows.map((row) => row[4]).sort(), ['pageview', 'purchased', 'purchased']);
    assert.equal(await page.textContent('#accepted'), '3');
    assert.equal(await page.textContent('#rejected'), '0');
    assert.equal(await page.textContent('#duplicates'), '0');
    assert.equal(await page.textContent('#bytes'), String(collector.stats().bytes));

    // 2. A fault chosen on the page (from the keyboard: arrow keys move a radio group) answers the SDK's next request.
    await page.getByLabel('202 (no fault)').focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByLabel('500', { exact: true }).isChecked(), true);
    await page.getByText('Faults on: {"status":500}').waitFor();
    assert.equal(client.sendOdpEvent({ action: 'order_placed', identifiers: { fs_user_id: 'user102' }, data: { total: 80 } }), null);
    const order = page.locator('#rows tr', { hasText: 'order_placed' });
    const answered = (status: RegExp) => order.filter({ has: page.locator('td.status', { hasText: status }) });
    await answered(/^500: status fault$/).filter({ hasText: 'first' }).waitFor();
    await answered(/^500: status fault$/).filter({ hasText: 'retry ×1' }).waitFor(); // the SDK retried the same id

    // Back to normal with a click: the next retry is accepted and still marked as a retry.
    await page.getByLabel('202 (no fault)').check();
    await page.getByText('No faults: valid batches are answered 202.').waitFor();
    await client.flush();
    const accepted = answered(/^202$/);
    await accepted.waitFor();
    assert.match((await accepted.textContent()) ?? '', /retry ×\d+/);
    const orderId = collector.events.find((event) => event.action === 'order_placed')?.data.idempotence_id;
    assert.equal(typeof orderId, 'string');
    const attempts = collector.batches.filter((batch) => idsIn(batch.body).includes(orderId as string));
    assert.ok(attempts.length >= 3, `attempts: ${attempts.map((batch) => batch.status).join(', ')}`);
    assert.deepEqual(
      attempts.map((batch) => batch.status),
      [...Array<number>(attempts.length - 1).fill(500), 202],
    );
    assert.equal(await order.count(), attempts.length, 'the page shows every attempt');
    assert.equal(await accepted.locator('td').nth(8).textContent(), `retry ×${attempts.length - 1}`);
    assert.ok(client.stats().retries >= attempts.length - 1);
    assert.equal(await page.textContent('#accepted'), '4');
    assert.equal(await page.textContent('#rejected'), String(attempts.length - 1));

    // 3. Keyboard: Tab reaches every control, in order, up to the filter; typing there filters the rows.
    await page.locator('h1').click(); // start the tab order from the top of the page
    const path: string[] = [];
    for (let i = 0; i < 20 && path.at(-1) !== 'filter'; i++) {
      await page.keyboard.press('Tab');
      path.push(await page.evaluate(() => document.activeElement?.id || (document.activeElement as HTMLInputElement | null)?.value || ''));
    }
    assert.deepEqual(path, ['none', 'retry-after', 'slow', 'latency', 'filter']);
    await page.keyboard.type('user101');
    const rowCount = 3 + attempts.length; // one row per event per attempt
    await page.getByText(`1 of ${rowCount} event rows shown.`).waitFor();
    const shown = await page.$$eval('#rows tr[data-event]:not([hidden])', (list) => list.map((row) => row.textContent ?? ''));
    assert.equal(shown.length, 1);
    assert.match(shown[0] ?? '', /socks/);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'clear');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Escape'); // clears a search field
    assert.equal(await page.$$eval('#rows tr[data-event]:not([hidden])', (list) => list.length), rowCount);

    // 4. Every fault mode on the page reaches the collector (the state line repeats the collector's answer).
    for (const [control, faults] of [
      [page.getByLabel('429 with Retry-After'), '{"status":429,"retryAfter":"2"}'],
      [page.getByLabel('413', { exact: true }), '{"status":413}'],
      [page.getByLabel('no answer: drop the connection'), '{"resetRate":1}'],
      [page.getByLabel('Slow: wait before answering'), '{"resetRate":1,"latencyMs":2000}'],
    ] as const) {
      await control.check();
      await page.getByText(`Faults on: ${faults}`).waitFor();
    }
    await page.getByLabel('Slow: wait before answering').uncheck();
    await page.getByLabel('202 (no fault)').check();
    await page.getByText('No faults: valid batches are answered 202.').waitFor();

    if (process.env.INSPECTOR_SCREENSHOT) await page.screenshot({ path: process.env.INSPECTOR_SCREENSHOT, fullPage: true });
    assert.deepEqual(pageErrors, []);
  } finally {
    await client.close({ timeoutMs: 1000 });
    await browser.close();
    await collector.close();
  }
});
