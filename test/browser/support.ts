// Shared by the browser tests: a static server for the repository (pages on one origin), the
// collector on another port (so every POST is cross-origin, with a preflight), and Chromium.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser, type BrowserContext, type LaunchOptions, type Page } from 'playwright-core';
import { startCollector, type Collector } from '../../collector/src/collector';
import { ROOT } from '../support/helpers';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serves the repository's files from 127.0.0.1; `/blank.html` is a page without the SDK, to navigate to. */
export async function startStaticServer(): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (path === '/blank.html') {
      res.writeHead(200, { 'content-type': TYPES['.html'] });
      res.end('<!doctype html><title>blank</title><p>no SDK here</p>');
      return;
    }
    if (path.includes('..')) {
      res.writeHead(403).end();
      return;
    }
    readFile(join(ROOT, path)).then(
      (body) => {
        // No 'unsafe-eval': a bundle that used eval or new Function would fail here (CSP-safe).
        res.writeHead(200, {
          'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
          'cache-control': 'no-store',
          'content-security-policy': "script-src 'self' 'unsafe-inline'",
        });
        res.end(body);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo; // a TCP server's address() is an AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];
/** The system's Chromium: CHROMIUM_PATH, or Debian's package. The tests never download or install one. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** CI (`.ci/run` sets CI=true and installs Chromium): a missing browser is a failure there, not a skip. */
const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
const MISSING = `no Chromium at ${CHROMIUM_PATH}: install Debian's chromium package or set CHROMIUM_PATH`;

/**
 * node:test's `skip` for a browser suite: the reason when Chromium is missing here (said loudly),
 * undefined when the suite must run (Chromium found, or CI, where launchChromium then fails).
 */
export const browserSkip: string | undefined = existsSync(CHROMIUM_PATH) || IN_CI ? undefined : MISSING;
if (browserSkip) console.error(`\n!! BROWSER TESTS SKIPPED: ${browserSkip}\n`);

export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${MISSING} (CI is set, so a missing browser fails the run)`);
  // A bounded launch: a browser that cannot start fails its file in seconds instead of hanging it.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000, ...options });
}

/** The example pages take the collector's address (and more) from the query string. */
export function exampleUrl(site: StaticServer, collector: Collector, page: 'script-tag/index.html' | 'spa/index.html', query: Record<string, string> = {}): string {
  const params = new URLSearchParams({ collector: collector.url, sdkKey: 'BrowserTestKey', ...query });
  return `${site.url}/examples/${page}?${params}`;
}

/** Waits for the page's client to be ready (the example pages expose it as `window.odpClient`). */
export async function waitForClient(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as unknown as { odpClient?: { isReady(): boolean } }).odpClient?.isReady() === true, undefined, {
    timeout: 10_000,
  });
}

/** Waits for `n` events at the collector; on timeout the error carries its stats and what the pages logged. */
export async function expectEvents(collector: Collector, n: number, timeoutMs = 10_000, logs: string[] = []): Promise<void> {
  try {
    await collector.waitForEvents(n, timeoutMs);
  } catch {
    throw new Error(`expected ${n} events at the collector; it has ${collector.events.length}.\ncollector stats: ${describeCollector(collector)}\npage console:\n${logs.join('\n')}`);
  }
}

export function describeCollector(collector: Collector): string {
  return JSON.stringify({ ...collector.stats(), batchStatuses: collector.batches.map((batch) => batch.status) });
}

/**
 * Waits until the page's client holds nothing: none queued, none in flight, none journaled. After
 * that nothing more can reach the collector from this page, so counts are final.
 */
export async function waitForIdle(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const stats = (window as unknown as { odpClient: { stats(): { queued: number; inFlight: number } } }).odpClient.stats();
      // Stored batches are kept until a 2xx for them was seen (journal entries `odp-sdk:…`).
      const journaled = Object.keys(localStorage).some((key) => key.startsWith('odp-sdk:'));
      return stats.queued === 0 && stats.inFlight === 0 && !journaled;
    },
    undefined,
    { timeout: 10_000 },
  );
}

/** Distinct idempotence ids among the events received. */
export function distinctIds(collector: Collector): number {
  return new Set(collector.events.map((event) => event.data.idempotence_id)).size;
}

/** Resolves after `ms`: only for a window in which something must NOT happen (a slow machine only shortens what it sees). */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One test's world: a collector and a fresh browser context (its own storage), both closed after. A
 * failure carries the collector's stats and the last lines the pages logged.
 */
export async function withWorld(browser: Browser, fn: (collector: Collector, context: BrowserContext, logs: string[]) => Promise<void>): Promise<void> {
  const collector = await startCollector();
  const context = await browser.newContext();
  const logs: string[] = [];
  try {
    await fn(collector, context, logs);
  } catch (error) {
    if (error instanceof Error && !error.message.includes('collector stats')) {
      error.message += `\ncollector stats: ${describeCollector(collector)}\npage console:\n${logs.slice(-40).join('\n')}`;
    }
    throw error;
  } finally {
    await context.close();
    await collector.close();
  }
}

/** Opens `url` in a new page of `context`, logging its console into `logs`, and waits for its client. */
export async function openPage(context: BrowserContext, url: string, logs: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (message) => logs.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => logs.push(`pageerror: ${error.message}`));
  await page.goto(url);
  await waitForClient(page);
  return page;
}

export { startCollector };
export type { Collector };
