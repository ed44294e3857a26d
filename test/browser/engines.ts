// The three browser engines behind one small interface, so that one test body runs in each:
// Chromium through playwright-core (CDP), Firefox ESR through puppeteer-core (WebDriver BiDi), and
// WebKitGTK through WebKitWebDriver under Xvfb (W3C WebDriver, spoken by the small client below:
// seven commands, against selenium-webdriver's dependencies and its own timeouts to tame).
// Every browser is Debian's package; nothing here downloads one. Paths can be overridden by env.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { chromium, type Browser as PlaywrightBrowser, type BrowserContext as PlaywrightContext, type Page as PlaywrightPage } from 'playwright-core';
import puppeteer, { type Browser as PuppeteerBrowser, type BrowserContext as PuppeteerContext, type KeyInput, type Page as PuppeteerPage } from 'puppeteer-core';
import { writeFile } from 'node:fs/promises';

export type EngineName = 'chromium' | 'firefox' | 'webkit';
export const ENGINES: readonly EngineName[] = ['chromium', 'firefox', 'webkit'];

/** One tab. */
export interface EnginePage {
  /** Navigates and waits for the load event. */
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  /** `history.back()`, without waiting for a load: a back/forward-cache restore fires none. */
  back(): Promise<void>;
  /** Runs `fn(arg)` in the page (a function without outer references: it is sent as text). */
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  /** Polls `fn(arg)` in the page until it is truthy; errors while the page navigates count as not yet. */
  waitFor<A = undefined>(fn: (arg: A) => unknown, arg?: A, timeoutMs?: number): Promise<void>;
  /** Presses a key, or a chord such as `Shift+Tab`, in the focused element (keys by their DOM names: Tab, ArrowRight, Escape). */
  press(key: string): Promise<void>;
  /** Types text into the focused element, key by key. */
  type(text: string): Promise<void>;
  /** Saves a PNG of the page. */
  screenshot(path: string): Promise<void>;
  /** Closes the tab as a user does: `pagehide` fires. */
  close(): Promise<void>;
}

/** A test's own browser profile: storage, cookies and tabs of its own. */
export interface EngineContext {
  /** What the context's pages logged (`level: text`, levels log/info/warn/error/debug, and `pageerror: …`). */
  readonly logs: string[];
  /** A new tab, on about:blank. */
  newPage(): Promise<EnginePage>;
  /** Takes every tab of the context offline, or back (see {@link Engine.offline}). */
  setOffline(offline: boolean): Promise<void>;
  close(): Promise<void>;
}

/** What differs between the engines' drivers, known before one starts (test titles say it). */
export interface EngineTraits {
  /**
   * How {@link EngineContext.setOffline} works: `network`, the engine's own emulation (requests fail,
   * `navigator.onLine` is false, `offline` fires); `simulated` in WebKit, whose WebDriver has none: the
   * page's `navigator.onLine` is overridden and `offline`/`online` are dispatched, while the network stays up.
   */
  readonly offline: 'network' | 'simulated';
  /**
   * Whether the engine's console reaches the test from the first line of a page: in WebKit, WebDriver
   * classic has no console log, so the static server puts a hook in each page's head (see support.ts)
   * and lines are read at each `evaluate`: what a page logs just before it goes is lost.
   */
  readonly consoleHook: boolean;
  /** Contexts that may be open at once: WebKitWebDriver serves one session at a time. */
  readonly contexts: number;
}

export const TRAITS: Record<EngineName, EngineTraits> = {
  chromium: { offline: 'network', consoleHook: false, contexts: Infinity },
  firefox: { offline: 'network', consoleHook: false, contexts: Infinity },
  webkit: { offline: 'simulated', consoleHook: true, contexts: 1 },
};

export interface Engine extends EngineTraits {
  readonly name: EngineName;
  /** The engine's own version, e.g. `chromium 156.0.8078.114`. */
  readonly version: string;
  newContext(options?: ContextOptions): Promise<EngineContext>;
  close(): Promise<void>;
}

export interface ContextOptions {
  /** An HTTP proxy (`127.0.0.1:port`) for the context's requests: how a test reaches a host name that is not 127.0.0.1. */
  proxy?: string;
}

const PATHS: Record<EngineName, string> = {
  chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  firefox: process.env.FIREFOX_PATH || '/usr/bin/firefox-esr',
  webkit: process.env.WEBKIT_DRIVER_PATH || '/usr/bin/WebKitWebDriver',
};
const XVFB_PATH = process.env.XVFB_PATH || '/usr/bin/Xvfb';
const PACKAGES: Record<EngineName, string> = { chromium: 'chromium', firefox: 'firefox-esr', webkit: 'webkit2gtk-driver and xvfb' };

/** CI (`.ci/run` sets CI=true and installs the engines): a missing engine fails there instead of being skipped. */
export const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';

function missing(name: EngineName): string | undefined {
  const paths = name === 'webkit' ? [PATHS.webkit, XVFB_PATH] : [PATHS[name]];
  const absent = paths.filter((path) => !existsSync(path));
  return absent.length ? `${name}: no ${absent.join(' or ')} here (install Debian's ${PACKAGES[name]}, or set its path in the environment)` : undefined;
}

/**
 * node:test's `skip` for an engine's suite: the reason when the engine is missing here (said loudly),
 * undefined when the suite must run (engine found, or CI, where launching it then fails the suite).
 */
export function engineSkip(name: EngineName): string | undefined {
  // A developer's shortcut (ODP_TEST_ENGINES=firefox): the other engines are skipped, and said so like a missing one.
  const only = process.env.ODP_TEST_ENGINES?.split(',').map((engine) => engine.trim());
  if (only?.length && !only.includes(name)) {
    if (IN_CI) throw new Error('ODP_TEST_ENGINES is for local runs: under CI every engine runs');
    return `${name}: not in ODP_TEST_ENGINES=${process.env.ODP_TEST_ENGINES}`;
  }
  const reason = missing(name);
  if (!reason || IN_CI) return undefined;
  console.error(`\n!! BROWSER TESTS SKIPPED in ${name}: ${reason}\n`);
  return reason;
}

/** Starts the engine: once per test file; each test then takes a context of its own. */
export async function launchEngine(name: EngineName): Promise<Engine> {
  const absent = missing(name);
  if (absent) throw new Error(`${absent}${IN_CI ? ' (CI is set, so a missing engine fails the run)' : ''}`);
  if (name === 'chromium') return launchChromium();
  if (name === 'firefox') return launchFirefox();
  return launchWebKit();
}

/** Bounded waits: an engine that cannot start fails its file in seconds instead of hanging it. */
const LAUNCH_TIMEOUT_MS = 30_000;
const NAVIGATION_TIMEOUT_MS = 20_000;

/** Polls `check` until it is truthy; a throw counts as not yet (a page in the middle of a navigation). */
async function poll(check: () => Promise<unknown>, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const level = (type: string) => (type === 'warning' ? 'warn' : type);

/**
 * `fn(arg)` as an expression the page evaluates: the function goes as text (so it may not use outer
 * variables), the argument as JSON. tsx compiles the tests with esbuild's keepNames, whose `__name`
 * helper a named inner function would call: the page gets a stand-in.
 */
function expression(fn: (arg: never) => unknown, arg: unknown): string {
  return `((__name) => (${String(fn)})(${arg === undefined ? '' : JSON.stringify(arg)}))((f) => f)`;
}

// ---------------------------------------------------------------------------------------------
// Chromium: playwright-core over CDP.

/** Debian's Chromium; the back/forward cache stays on (Playwright turns it off by default), as for users. */
async function launchChromium(): Promise<Engine> {
  const browser: PlaywrightBrowser = await chromium.launch({
    executablePath: PATHS.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
    timeout: LAUNCH_TIMEOUT_MS,
  });
  return {
    name: 'chromium',
    ...TRAITS.chromium,
    version: `chromium ${browser.version()}`,
    async newContext({ proxy } = {}) {
      const context: PlaywrightContext = await browser.newContext(proxy ? { proxy: { server: `http://${proxy}` } } : {});
      const logs: string[] = [];
      return {
        logs,
        async newPage() {
          const page: PlaywrightPage = await context.newPage();
          page.setDefaultTimeout(NAVIGATION_TIMEOUT_MS);
          page.on('console', (message) => logs.push(`${level(message.type())}: ${message.text()}`));
          page.on('pageerror', (error) => logs.push(`pageerror: ${error.message}`));
          return {
            goto: async (url) => void (await page.goto(url)),
            reload: async () => void (await page.reload()),
            back: () => page.evaluate(() => history.back()).catch(() => {}),
            evaluate: (fn, arg) => page.evaluate(expression(fn, arg)) as never,
            waitFor: (fn, arg, timeoutMs = 10_000) => poll(() => page.evaluate(expression(fn, arg)), timeoutMs, String(fn)),
            press: (key) => page.keyboard.press(key),
            type: (text) => page.keyboard.type(text),
            screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
            close: () => page.close({ runBeforeUnload: true }),
          };
        },
        setOffline: (offline) => context.setOffline(offline),
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Firefox: puppeteer-core over WebDriver BiDi (no geckodriver).

async function launchFirefox(): Promise<Engine> {
  const browser: PuppeteerBrowser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: PATHS.firefox,
    headless: true,
    timeout: LAUNCH_TIMEOUT_MS,
    protocolTimeout: LAUNCH_TIMEOUT_MS,
  });
  const version = (await browser.version()).replace('/', ' ');
  return {
    name: 'firefox',
    ...TRAITS.firefox,
    version,
    async newContext({ proxy } = {}) {
      const context: PuppeteerContext = await browser.createBrowserContext(proxy ? { proxyServer: proxy } : {});
      const logs: string[] = [];
      const pages = new Set<PuppeteerPage>();
      let offline = false;
      return {
        logs,
        async newPage() {
          const page = await context.newPage();
          pages.add(page);
          page.on('close', () => pages.delete(page));
          page.setDefaultTimeout(NAVIGATION_TIMEOUT_MS);
          page.on('console', (message) => logs.push(`${level(message.type())}: ${message.text()}`));
          page.on('pageerror', (error) => logs.push(`pageerror: ${(error as Error).message}`));
          if (offline) await page.setOfflineMode(true);
          return {
            goto: async (url) => void (await page.goto(url)),
            reload: async () => void (await page.reload()),
            back: () => page.evaluate(() => history.back()).catch(() => {}),
            evaluate: (fn, arg) => page.evaluate(expression(fn, arg)) as never,
            waitFor: (fn, arg, timeoutMs = 10_000) => poll(() => page.evaluate(expression(fn, arg)), timeoutMs, String(fn)),
            async press(chord) {
              const keys = chord.split('+') as KeyInput[];
              for (const key of keys) await page.keyboard.down(key);
              for (const key of keys.reverse()) await page.keyboard.up(key);
            },
            type: (text) => page.keyboard.type(text),
            screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
            close: async () => {
              await page.close({ runBeforeUnload: true });
            },
          };
        },
        async setOffline(on) {
          offline = on;
          await Promise.all([...pages].map((page) => page.setOfflineMode(on)));
        },
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// WebKitGTK: WebKitWebDriver (it starts MiniBrowser) under Xvfb, over W3C WebDriver classic.

/** Processes this file started: killed on the way out whatever happens (a failed test, a forced exit). */
const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) killTree(child.pid);
});

/** Kills `pid` and everything it started (MiniBrowser and its web processes under the driver). */
function killTree(pid: number | undefined): void {
  if (!pid) return;
  for (const child of childrenOf(pid)) killTree(child);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, stdio: Array<'ignore' | 'pipe'>): ChildProcess {
  const child = spawn(command, args, { env, stdio });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  killTree(child.pid);
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
}

/** Xvfb on a display number it picks itself (`-displayfd`): never one another session uses. */
async function startXvfb(): Promise<{ display: string; process: ChildProcess }> {
  const xvfb = startProcess(XVFB_PATH, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], process.env, ['ignore', 'ignore', 'pipe', 'pipe']);
  let stderr = '';
  xvfb.stderr?.on('data', (chunk) => (stderr += String(chunk)));
  try {
    const display = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error('Xvfb gave no display number within 10 s')), 10_000);
      xvfb.stdio[3]!.on('data', (chunk) => {
        text += String(chunk);
        if (text.includes('\n')) {
          clearTimeout(timer);
          resolve(`:${text.trim()}`);
        }
      });
      xvfb.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Xvfb exited (${code}): ${stderr.slice(-500)}`));
      });
    });
    return { display, process: xvfb };
  } catch (error) {
    await stopProcess(xvfb);
    throw error;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One W3C WebDriver call; every call is bounded, and a WebDriver error becomes an Error with its message. */
async function webdriver<T>(base: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs = NAVIGATION_TIMEOUT_MS + 5000): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = (await response.json()) as { value: T & { error?: string; message?: string } };
  if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
  return json.value;
}

/** W3C WebDriver's code points for the keys the tests press. */
const WEBDRIVER_KEYS: Record<string, string> = { Tab: '\uE004', Shift: '\uE008', Escape: '\uE00C', ArrowRight: '\uE014', ArrowLeft: '\uE012', Enter: '\uE007' };

/** Session creation hangs when MiniBrowser cannot reach a display: bounded, it fails instead. */
const SESSION_TIMEOUT_MS = 20_000;

/** Runs `fn` in the page with the argument, awaits it, and brings back the console lines the hook kept. */
const EXECUTE = `const done = arguments[0];
const logs = () => (window.__odpTestConsole || []).splice(0);
Promise.resolve().then(() => EXPRESSION).then(
  (value) => done({ value, logs: logs() }),
  (error) => done({ error: String((error && error.stack) || error), logs: logs() }),
);`;

async function launchWebKit(): Promise<Engine> {
  const xvfb = await startXvfb();
  let driver: ChildProcess | undefined;
  const sessions = new Set<string>();
  let base = '';
  try {
    const port = await freePort();
    driver = startProcess(PATHS.webkit, [`--port=${port}`], { ...process.env, DISPLAY: xvfb.display }, ['ignore', 'ignore', 'ignore']);
    base = `http://127.0.0.1:${port}`;
    await poll(() => webdriver(base, 'GET', '/status', undefined, 1000), 10_000, 'WebKitWebDriver to listen');
  } catch (error) {
    await stopProcess(driver);
    await stopProcess(xvfb.process);
    throw error;
  }
  const close = async () => {
    await Promise.all([...sessions].map((id) => webdriver(base, 'DELETE', `/session/${id}`, undefined, 5000).catch(() => {})));
    await stopProcess(driver);
    await stopProcess(xvfb.process);
  };
  let version = '';
  const newContext = async ({ proxy }: ContextOptions = {}): Promise<EngineContext> => {
    const created = await webdriver<{ sessionId: string; capabilities: { browserVersion: string } }>(
      base,
      'POST',
      '/session',
      {
        capabilities: {
          alwaysMatch: {
            timeouts: { pageLoad: NAVIGATION_TIMEOUT_MS, script: NAVIGATION_TIMEOUT_MS },
            ...(proxy ? { proxy: { proxyType: 'manual', httpProxy: proxy } } : {}),
          },
        },
      },
      SESSION_TIMEOUT_MS,
    ).catch((error: Error) => {
      throw new Error(`WebKit: no WebDriver session within ${SESSION_TIMEOUT_MS / 1000} s (${error.message})`);
    });
    version ||= created.capabilities.browserVersion;
    const id = created.sessionId;
    sessions.add(id);
    const session = `/session/${id}`;
    const logs: string[] = [];
    const windows = new Set<string>();
    let current = await webdriver<string>(base, 'GET', `${session}/window`);
    let firstTabTaken = false;
    let offline = false;
    // One command at a time: a page's commands run in its own window, so none may interleave.
    let queue: Promise<unknown> = Promise.resolve();
    const inWindow = <T>(handle: string, fn: () => Promise<T>): Promise<T> => {
      const run = queue.then(async () => {
        if (current !== handle) {
          await webdriver(base, 'POST', `${session}/window`, { handle });
          current = handle;
        }
        return fn();
      });
      queue = run.catch(() => {});
      return run;
    };
    /** W3C actions: a chord (all down, then up in reverse), or keys one after another. */
    const keyActions = async (keys: string[], chord: boolean) => {
      const actions = chord
        ? [...keys.map((value) => ({ type: 'keyDown', value })), ...[...keys].reverse().map((value) => ({ type: 'keyUp', value }))]
        : keys.flatMap((value) => [
            { type: 'keyDown', value },
            { type: 'keyUp', value },
          ]);
      await webdriver(base, 'POST', `${session}/actions`, { actions: [{ type: 'key', id: 'keyboard', actions }] });
      await webdriver(base, 'DELETE', `${session}/actions`);
    };
    const execute = async <R, A>(handle: string, fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> => {
      const result = await inWindow(handle, () =>
        webdriver<{ value?: R; error?: string; logs?: string[] }>(base, 'POST', `${session}/execute/async`, {
          script: EXECUTE.replace('EXPRESSION', () => expression(fn, arg)),
          args: [],
        }),
      );
      logs.push(...(result?.logs ?? []));
      if (result?.error) throw new Error(`in the page: ${result.error}`);
      return result?.value as R;
    };
    // WebDriver classic cannot take WebKitGTK offline: the page is told so, as the browser would tell it.
    const goOffline = (on: boolean) => {
      if (on) Object.defineProperty(navigator, 'onLine', { get: () => false, configurable: true });
      else delete (navigator as { onLine?: boolean }).onLine;
      dispatchEvent(new Event(on ? 'offline' : 'online'));
    };
    return {
      logs,
      async newPage() {
        let handle: string;
        if (!firstTabTaken) {
          firstTabTaken = true;
          handle = current;
        } else {
          handle = (await inWindow(current, () => webdriver<{ handle: string }>(base, 'POST', `${session}/window/new`, { type: 'tab' }))).handle;
        }
        windows.add(handle);
        const page: EnginePage = {
          goto: async (url) => {
            await inWindow(handle, () => webdriver(base, 'POST', `${session}/url`, { url }));
            if (offline) await execute(handle, goOffline, true).catch(() => {});
          },
          reload: async () => {
            await inWindow(handle, () => webdriver(base, 'POST', `${session}/refresh`, {}));
            if (offline) await execute(handle, goOffline, true).catch(() => {});
          },
          back: () => execute(handle, () => history.back()).catch(() => {}),
          evaluate: (fn, arg) => execute(handle, fn, arg),
          waitFor: (fn, arg, timeoutMs = 10_000) => poll(() => execute(handle, fn, arg), timeoutMs, String(fn)),
          press: (chord) => inWindow(handle, () => keyActions(chord.split('+').map((key) => WEBDRIVER_KEYS[key] ?? key), true)),
          type: (text) => inWindow(handle, () => keyActions([...text], false)),
          screenshot: async (path) => {
            const png = await inWindow(handle, () => webdriver<string>(base, 'GET', `${session}/screenshot`));
            await writeFile(path, Buffer.from(png, 'base64'));
          },
          close: async () => {
            windows.delete(handle);
            await inWindow(handle, () => webdriver(base, 'DELETE', `${session}/window`));
            current = '';
          },
        };
        return page;
      },
      async setOffline(on) {
        offline = on;
        for (const handle of windows) await execute(handle, goOffline, on).catch(() => {});
      },
      async close() {
        sessions.delete(id);
        await webdriver(base, 'DELETE', session, undefined, 10_000).catch(() => {});
      },
    };
  };
  // The version comes with the first session.
  const probe = await newContext().catch(async (error: unknown) => {
    await close();
    throw error;
  });
  await probe.close();
  return { name: 'webkit', ...TRAITS.webkit, version: `webkitgtk ${version}`, newContext, close };
}
