// The collector's inspector page in every engine, fed by the real SDK (Node) over loopback HTTP:
// what the SDK sends shows up live, a fault switched on the page answers the SDK's next request
// and its retry is marked, and the page works from the keyboard.
// INSPECTOR_SCREENSHOT=docs/inspector.png also saves a screenshot of the page with events (Chromium).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInstance } from '../../src/index';
import { describeEngines, type EnginePage } from './support';

/** The table's rows as text cells: time, answer, batch, type, action, identifiers, data, id, attempt. */
function tableRows(page: EnginePage, selector = '#rows tr'): Promise<string[][]> {
  return page.evaluate((selector) => Array.from(document.querySelectorAll<HTMLTableRowElement>(selector), (row) => Array.from(row.cells, (cell) => cell.textContent ?? '')), selector);
}

/** What a person does with a labelled control: `check` clicks it unless it is checked already (`uncheck`: unless it is not). */
function control(page: EnginePage, label: string, action: 'check' | 'uncheck' | 'focus' | 'isChecked'): Promise<boolean> {
  return page.evaluate(
    ({ label, action }) => {
      const found = Array.from(document.querySelectorAll('label')).find((element) => element.textContent?.trim() === label)?.control as HTMLInputElement | undefined;
      if (!found) throw new Error(`no control labelled ${label}`);
      if (action === 'focus') found.focus();
      else if (action !== 'isChecked' && found.checked !== (action === 'check')) found.click();
      return found.checked;
    },
    { label, action },
  );
}

/** Waits until the page shows `text`. */
const shows = (page: EnginePage, text: string) => page.waitFor((text) => document.body.textContent?.includes(text) === true, text, 15_000);

/** Rows (as text) of an event with `action` whose answer cell is `status` and, if given, whose row has `attempt`. */
function answeredRows(page: EnginePage, action: string, status: string, attempt?: string): Promise<string[]> {
  return page.evaluate(
    ({ action, status, attempt }) =>
      Array.from(document.querySelectorAll<HTMLTableRowElement>('#rows tr'))
        .filter((row) => row.textContent?.includes(action) && row.querySelector('td.status')?.textContent === status && (!attempt || row.textContent.includes(attempt)))
        .map((row) => row.textContent ?? ''),
    { action, status, attempt: attempt ?? '' },
  );
}

/** Ids of the idempotence ids in a request body. */
const idsIn = (body: string): string[] => (JSON.parse(body) as Array<{ data: { idempotence_id: string } }>).map((event) => event.data.idempotence_id);

describeEngines('the inspector', { timeout: 2 * 60_000 }, (suite) => {
  test('the inspector shows SDK events live, switches faults, marks retries, and works from the keyboard', async () => {
    await suite.world(async ({ collector, context, logs }) => {
      const client = createInstance({
        sdkKey: 'InspectorKey',
        datafileUrlTemplate: `${collector.url}/datafiles/{sdkKey}.json`, // its ODP host is the collector itself
        logLevel: 'silent',
        odp: { flushIntervalMs: 0, initialBackoffMs: 400, maxBackoffMs: 400 },
      });
      try {
        const page = await context.newPage();
        await page.goto(`${collector.url}/`);
        await shows(page, 'Live: requests appear as they arrive.');

        // 1. Events sent with the SDK appear with their action, identifiers, data and id; counters follow.
        await client.onReady({ timeoutMs: 5000 });
        assert.equal(client.sendOdpEvent({ action: 'purchased', identifiers: { fs_user_id: 'user100', email: 'jane@example.com' }, data: { item: 'shirt', price: 50 } }), null);
        assert.equal(client.sendOdpEvent({ action: 'purchased', identifiers: { fs_user_id: 'user101' }, data: { item: 'socks', price: 8.5 } }), null);
        assert.equal(client.sendOdpEvent({ action: 'pageview', identifiers: { fs_user_id: 'user100' }, data: { page: '/checkout' } }), null);
        await client.flush();
        await page.waitFor(() => document.querySelectorAll('#rows tr[data-event]').length === 3);
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
        const text = (id: string) => page.evaluate((id) => document.getElementById(id)?.textContent, id);
        assert.equal(await text('accepted'), '3');
        assert.equal(await text('rejected'), '0');
        assert.equal(await text('duplicates'), '0');
        assert.equal(await text('bytes'), String(collector.stats().bytes));

        // 2. A fault chosen on the page (from the keyboard: arrow keys move a radio group) answers the SDK's next request.
        await control(page, '202 (no fault)', 'focus');
        await page.press('ArrowRight');
        assert.equal(await control(page, '500', 'isChecked'), true);
        await shows(page, 'Faults on: {"status":500}');
        assert.equal(client.sendOdpEvent({ action: 'order_placed', identifiers: { fs_user_id: 'user102' }, data: { total: 80 } }), null);
        await page.waitFor(() => Array.from(document.querySelectorAll('#rows tr')).some((row) => row.textContent?.includes('order_placed') && row.textContent.includes('first') && row.querySelector('td.status')?.textContent === '500: status fault'), undefined, 15_000);
        await page.waitFor(() => Array.from(document.querySelectorAll('#rows tr')).some((row) => row.textContent?.includes('order_placed') && row.textContent.includes('retry ×1') && row.querySelector('td.status')?.textContent === '500: status fault'), undefined, 15_000); // the SDK retried the same id

        // Back to normal with a click: the next retry is accepted and still marked as a retry.
        await control(page, '202 (no fault)', 'check');
        await shows(page, 'No faults: valid batches are answered 202.');
        await client.flush();
        await page.waitFor(() => Array.from(document.querySelectorAll('#rows tr')).some((row) => row.textContent?.includes('order_placed') && row.querySelector('td.status')?.textContent === '202'), undefined, 15_000);
        const [accepted] = await answeredRows(page, 'order_placed', '202');
        assert.match(accepted ?? '', /retry ×\d+/);
        const orderId = collector.events.find((event) => event.action === 'order_placed')?.data.idempotence_id;
        assert.equal(typeof orderId, 'string');
        const attempts = collector.batches.filter((batch) => idsIn(batch.body).includes(orderId as string));
        assert.ok(attempts.length >= 3, `attempts: ${attempts.map((batch) => batch.status).join(', ')}`);
        assert.deepEqual(
          attempts.map((batch) => batch.status),
          [...Array<number>(attempts.length - 1).fill(500), 202],
        );
        const orderRows = (await tableRows(page)).filter((row) => row[4] === 'order_placed');
        assert.equal(orderRows.length, attempts.length, 'the page shows every attempt');
        assert.equal(orderRows.find((row) => row[1] === '202')?.[8], `retry ×${attempts.length - 1}`);
        assert.ok(client.stats().retries >= attempts.length - 1);
        assert.equal(await text('accepted'), '4');
        assert.equal(await text('rejected'), String(attempts.length - 1));

        // 3. Keyboard: Tab reaches every control, in order, up to the filter; typing there filters the rows.
        await page.evaluate(() => {
          // Start the tab order from the top of the page, as a click on the heading does.
          const heading = document.querySelector('h1')!;
          heading.tabIndex = -1;
          heading.focus();
        });
        const path: string[] = [];
        for (let i = 0; i < 20 && path.at(-1) !== 'filter'; i++) {
          await page.press('Tab');
          path.push(await page.evaluate(() => document.activeElement?.id || (document.activeElement as HTMLInputElement | null)?.value || ''));
        }
        assert.deepEqual(path, ['none', 'retry-after', 'slow', 'latency', 'filter']);
        await page.type('user101');
        const rowCount = 3 + attempts.length; // one row per event per attempt
        await shows(page, `1 of ${rowCount} event rows shown.`);
        const shown = await page.evaluate(() => Array.from(document.querySelectorAll('#rows tr[data-event]:not([hidden])'), (row) => row.textContent ?? ''));
        assert.equal(shown.length, 1);
        assert.match(shown[0] ?? '', /socks/);
        await page.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'clear');
        await page.press('Shift+Tab');
        await page.press('Escape'); // clears a search field
        assert.equal(await page.evaluate(() => document.querySelectorAll('#rows tr[data-event]:not([hidden])').length), rowCount);

        // 4. Every fault mode on the page reaches the collector (the state line repeats the collector's answer).
        for (const [label, faults] of [
          ['429 with Retry-After', '{"status":429,"retryAfter":"2"}'],
          ['413', '{"status":413}'],
          ['no answer: drop the connection', '{"resetRate":1}'],
          ['Slow: wait before answering', '{"resetRate":1,"latencyMs":2000}'],
        ] as const) {
          await control(page, label, 'check');
          await shows(page, `Faults on: ${faults}`);
        }
        await control(page, 'Slow: wait before answering', 'uncheck');
        await control(page, '202 (no fault)', 'check');
        await shows(page, 'No faults: valid batches are answered 202.');

        if (process.env.INSPECTOR_SCREENSHOT && suite.name === 'chromium') await page.screenshot(process.env.INSPECTOR_SCREENSHOT);
        // A CSP refusal shows up as an error. Firefox asks for /favicon.ico by itself, which the page's
        // CSP (default-src 'none') refuses: the browser's request, not the page's, so it is left out.
        const errors = logs.filter((line) => (line.startsWith('pageerror') || line.startsWith('error')) && !line.includes('/favicon.ico'));
        assert.deepEqual(errors, []);
      } finally {
        await client.close({ timeoutMs: 1000 });
      }
    });
  });
});
