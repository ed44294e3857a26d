// Shared by the browser tests: a static server for the repository (pages on one origin), the
// collector on another port (so every POST is cross-origin, with a preflight), and a suite per
// engine (engines.ts: Chromium, Firefox, WebKit) in which each test gets a context of its own.
import { after, before, describe } from 'node:test';
import { createServer, request, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { startCollector, type Collector } from '../../collector/src/collector';
import { ROOT } from '../support/helpers';
import { ENGINES, engineSkip, launchEngine, TRAITS, type ContextOptions, type EngineTraits, type Engine, type EngineContext, type EngineName, type EnginePage } from './engines';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export interface StaticServer {
  url: string;
  /** A script put first in the head of every page served (an init script: it runs before any of the page's). */
  initScript: string | undefined;
  close(): Promise<void>;
}

/**
 * Keeps what a page logs in `window.__odpTestConsole`, for an engine whose driver has no console log
 * (WebKit over WebDriver classic): engines.ts reads and empties it at each evaluate.
 */
const CONSOLE_HOOK = `(() => {
  const lines = (window.__odpTestConsole = []);
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    const original = console[level];
    console[level] = function (...args) {
      lines.push(level + ': ' + args.map(String).join(' '));
      return original.apply(this, args);
    };
  }
  addEventListener('error', (event) => lines.push('pageerror: ' + event.message));
})();`;

/**
 * Serves the repository's files from 127.0.0.1; `/blank.html` is a page without the SDK, to navigate
 * to. `consoleHook` puts {@link CONSOLE_HOOK} first in every page.
 */
export async function startStaticServer({ consoleHook = false } = {}): Promise<StaticServer> {
  const site: StaticServer = { url: '', initScript: undefined, close: async () => {} };
  /** The page with the scripts that must run before its own in its head. */
  const withHead = (html: string) => {
    const scripts = [consoleHook ? CONSOLE_HOOK : '', site.initScript ?? ''].filter(Boolean);
    return scripts.length ? html.replace('<head>', `<head><script>${scripts.join('\n')}</script>`) : html;
  };
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (path === '/blank.html') {
      res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-cache' });
      res.end(withHead('<!doctype html><html><head><title>blank</title></head><body><p>no SDK here</p></body></html>'));
      return;
    }
    if (path.includes('..')) {
      res.writeHead(403).end();
      return;
    }
    readFile(join(ROOT, path)).then(
      (body) => {
        const type = TYPES[extname(path)] ?? 'application/octet-stream';
        // No 'unsafe-eval': a bundle that used eval or new Function would fail here (CSP-safe).
        res.writeHead(200, {
          'content-type': type,
          'cache-control': 'no-cache',
          'content-security-policy': "script-src 'self' 'unsafe-inline'",
        });
        res.end(extname(path) === '.html' ? withHead(body.toString('utf8')) : body);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo; // a TCP server's address() is an AddressInfo
  site.url = `http://127.0.0.1:${port}`;
  site.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return site;
}

/**
 * An HTTP proxy on 127.0.0.1 that sends every request, whatever its host name, to the same port on
 * 127.0.0.1: how a page is served from a name that is not loopback (an insecure context) in every
 * engine, without touching name resolution. Plain HTTP only; nothing leaves the machine.
 */
export async function startLoopbackProxy(): Promise<{ address: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', 'http://127.0.0.1');
    const upstream = request(
      { host: '127.0.0.1', port: target.port || 80, method: req.method, path: `${target.pathname}${target.search}`, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The example pages take the collector's address (and more) from the query string. */
export function exampleUrl(site: StaticServer, collector: Collector, page: 'script-tag/index.html' | 'spa/index.html', query: Record<string, string> = {}): string {
  const params = new URLSearchParams({ collector: collector.url, sdkKey: 'BrowserTestKey', ...query });
  return `${site.url}/examples/${page}?${params}`;
}

/** Waits for the page's client to be ready (the example pages expose it as `window.odpClient`). */
export async function waitForClient(page: EnginePage): Promise<void> {
  await page.waitFor(() => (window as unknown as { odpClient?: { isReady(): boolean } }).odpClient?.isReady() === true);
}

/** Waits for `n` events at the collector; on timeout the error carries its stats and what the pages logged. */
export async function expectEvents(collector: Collector, n: number, timeoutMs = 10_000, logs: string[] = []): Promise<void> {
  try {
    await collector.waitForEvents(n, timeoutMs);
  } catch {
    throw new Error(`expected ${n} events at the collector; it has ${collector.events.length}.\ncollector stats: ${describeCollector(collector)}\npage console:\n${logs.slice(-40).join('\n')}`);
  }
}

export function describeCollector(collector: Collector): string {
  return JSON.stringify({ ...collector.stats(), batchStatuses: collector.batches.map((batch) => batch.status) });
}

/**
 * Waits until the page's client holds nothing: none queued, none in flight, none journaled. After
 * that nothing more can reach the collector from this page, so counts are final.
 */
export async function waitForIdle(page: EnginePage): Promise<void> {
  await page.waitFor(() => {
    const stats = (window as unknown as { odpClient: { stats(): { queued: number; inFlight: number } } }).odpClient.stats();
    // Stored batches are kept until a 2xx for them was seen (journal entries `odp-sdk:…`).
    const journaled = Object.keys(localStorage).some((key) => key.startsWith('odp-sdk:'));
    return stats.queued === 0 && stats.inFlight === 0 && !journaled;
  });
}

/** Distinct idempotence ids among the events received. */
export function distinctIds(collector: Collector): number {
  return new Set(collector.events.map((event) => event.data.idempotence_id)).size;
}

/** Resolves after `ms`: only for a window in which something must NOT happen (a slow machine only shortens what it sees). */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One test's world: its engine and site, and a collector and a browser context of its own. */
export interface World {
  engine: Engine;
  site: StaticServer;
  collector: Collector;
  context: EngineContext;
  /** What the context's pages logged. */
  logs: string[];
  /** Opens `url` in a new tab and waits for its client. */
  open(url: string): Promise<EnginePage>;
}

/** The engine and site of a suite, once its `before` ran. */
export interface EngineSuite {
  readonly name: EngineName;
  /** What differs in this engine, known before it starts: for test titles that say so. */
  readonly traits: EngineTraits;
  readonly engine: Engine;
  readonly site: StaticServer;
  /**
   * Runs one test in a world of its own, closed after; a failure carries the collector's stats and
   * the last lines the pages logged. `initScript` runs first in every page (put in its head by the site).
   */
  world(fn: (world: World) => Promise<void>, options?: { initScript?: string; collector?: Parameters<typeof startCollector>[0]; context?: ContextOptions }): Promise<void>;
}

/** Engine launch and suite time, per engine, printed when its suite ends (the README's figures). */
const suiteStarted = new Map<EngineName, number>();

/**
 * Defines `body`'s tests once per engine, in a suite named `{title} in {engine}`: the engine is
 * launched once for the suite, each test gets a context of its own. A missing engine skips its suite
 * loudly here and fails it under CI (engines.ts).
 */
export function describeEngines(title: string, options: { timeout: number }, body: (suite: EngineSuite) => void): void {
  for (const name of ENGINES) {
    let engine: Engine | undefined;
    let site: StaticServer | undefined;
    const suite: EngineSuite = {
      name,
      traits: TRAITS[name],
      get engine() {
        if (!engine) throw new Error(`${name} did not start`);
        return engine;
      },
      get site() {
        if (!site) throw new Error('the static server did not start');
        return site;
      },
      async world(fn, { initScript, collector: collectorOptions, context: contextOptions } = {}) {
        const collector = await startCollector(collectorOptions);
        const the = { engine: suite.engine, site: suite.site };
        let context: EngineContext | undefined;
        the.site.initScript = initScript;
        try {
          context = await the.engine.newContext(contextOptions);
          const logs = context.logs;
          const ctx = context;
          await fn({
            ...the,
            collector,
            context: ctx,
            logs,
            async open(url) {
              const page = await ctx.newPage();
              await page.goto(url);
              await waitForClient(page);
              return page;
            },
          });
        } catch (error) {
          if (error instanceof Error && !error.message.includes('collector stats')) {
            error.message += `\ncollector stats: ${describeCollector(collector)}\npage console:\n${(context?.logs ?? []).slice(-40).join('\n')}`;
          }
          throw error;
        } finally {
          the.site.initScript = undefined;
          await context?.close().catch(() => {});
          await collector.close();
        }
      },
    };
    describe(`${title} in ${name}`, { skip: engineSkip(name), timeout: options.timeout }, () => {
      before(async () => {
        suiteStarted.set(name, Date.now());
        engine = await launchEngine(name);
        site = await startStaticServer({ consoleHook: engine.consoleHook });
        console.log(`# ${engine.version}: launched in ${Date.now() - suiteStarted.get(name)!} ms`);
      });
      after(async () => {
        await Promise.all([engine?.close(), site?.close()]);
        console.log(`# ${name}: suite '${title}' took ${((Date.now() - (suiteStarted.get(name) ?? Date.now())) / 1000).toFixed(1)} s`);
      });
      body(suite);
    });
  }
}

export { startCollector };
export type { Collector, Engine, EngineContext, EngineName, EnginePage };
