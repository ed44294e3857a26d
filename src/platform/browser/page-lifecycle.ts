import type { OdpSettings } from '../../types';
import { OPT_OUT_STORAGE_KEY, type ClientHandle, type HostLifecycle, type KeyValueStorage } from '../platform';
import { createJournal, isLeftNote } from './event-journal';
import { randomUuid } from './random-uuid';

/**
 * Chromium lets keep-alive bodies in flight total 64 KiB for the whole page; this SDK leaves
 * 4 KiB of that to other scripts' beacons.
 */
export const KEEPALIVE_BYTES = 61_440;

/** The clients of this page: an opt-out choice made in one applies to all (other tabs learn it through `storage`). */
const pageClients = new Set<ClientHandle>();

/**
 * Drives one client through the page's life: `visibilitychange` and `pagehide` (never `unload`,
 * which bars the back/forward cache), `freeze`/`resume`, `pageshow`, `online`/`offline`. Leaving
 * sends only what the server allows now; everything undelivered stays journaled until a 2xx for
 * it is seen. A page that is left or frozen (`pagehide`, persisted or not, or `freeze`) may never
 * run again: its note says so, and a live page of the site takes its entries over. One that comes
 * back (a back/forward-cache restore, `resume`) first reconciles with storage.
 */
export function attachPage(client: ClientHandle, storage: KeyValueStorage | undefined, schedule: (fn: () => void, ms: number) => () => void): HostLifecycle | undefined {
  if (typeof document === 'undefined' || typeof addEventListener !== 'function') return undefined;
  const { dispatcher, logger } = client;
  const journal = storage && client.maxStoredBytes > 0 ? createJournal(storage, client.maxStoredBytes, randomUuid, schedule) : undefined;
  dispatcher.observer = journal;
  pageClients.add(client);
  let online = true;
  /** Back online, the failures were the network's: what waits for a backoff goes now. */
  const setOnline = (on: boolean) => {
    online = on;
    if (on) dispatcher.forgiveFailures();
    dispatcher.hold('offline', !on);
  };
  setOnline(navigator.onLine !== false);
  let cancelSave: (() => void) | undefined;
  /** The key of the ODP settings the client uses, once it has told them. */
  let publicKey: string | undefined;
  const takeOver = (odp: OdpSettings) => {
    publicKey = odp.publicKey;
    journal?.claim(publicKey, ({ events, notBefore }) => {
      if (!events.length) return;
      if (client.optedOut()) return client.forgetClaimed(events.length); // counted: accepted, then dropped as optedOut
      dispatcher.pauseUntil(notBefore);
      const taken = client.restore(odp, events);
      logger.info(`${taken} events taken over from an earlier page`);
      if (taken < events.length) {
        // The queue is full, or the client closed or changed settings meanwhile: the rest stays stored for a later page.
        journal.keepForLater(odp.publicKey, events.slice(taken));
        logger.warn(`${events.length - taken} stored events not taken (queue full or client closed); kept for the next page`);
      }
    });
  };
  /** Another page went, or the user opted out: what gone pages left for the settings in use is taken over (and counted) now. */
  const takeOverAgain = () => {
    const odp = client.pending().odp;
    if (odp && odp.publicKey === publicKey) takeOver(odp);
  };

  const saveQueue = () => {
    cancelSave?.();
    cancelSave = undefined;
    const { odp, events } = client.pending();
    if (odp) journal?.putQueue(odp.publicKey, events);
  };
  /**
   * Left or frozen (`pagehide`, into the back/forward cache or not, or `freeze`): the page may never
   * run again, so its entries may be taken over by a live page of the site.
   */
  let away = false;
  /** The page may not come back: batch what is queued, send what the server allows now. */
  const hide = () => {
    client.cutBatch();
    if (online) dispatcher.sendNow();
    journal?.mark(away, dispatcher.notBefore);
  };
  const leave = () => {
    dispatcher.handOff();
    dispatcher.hold('left', true);
    away = true;
    hide();
  };
  /** Back from the back/forward cache (or unfrozen): batches another page took meanwhile are no longer this one's. */
  const back = (taken: ReadonlySet<number>) => {
    const count = dispatcher.handOver(taken);
    if (count) logger.info(`${count} events taken over by another page`);
    dispatcher.requeueUnconfirmed();
    dispatcher.hold('left', false);
  };
  const comeBack = () => {
    if (!away) return;
    away = false;
    if (journal) journal.reconcile(back);
    else back(new Set());
  };
  const listeners: Array<[EventTarget, string, (event: Event) => void]> = [
    // Chromium fires it after `pagehide` too, as the page goes.
    [document, 'visibilitychange', () => document.visibilityState === 'hidden' && hide()],
    [window, 'pagehide', leave],
    // Chromium freezes background tabs too; a frozen page runs nothing until `resume`.
    [document, 'freeze', leave],
    [document, 'resume', comeBack],
    [window, 'pageshow', (event) => (event as PageTransitionEvent).persisted && comeBack()],
    [
      window,
      'storage',
      // Another tab was left or frozen: what it could not deliver is this tab's to send now.
      (event) => {
        const { key, newValue } = event as StorageEvent;
        if (key === OPT_OUT_STORAGE_KEY && newValue) client.setOptOut(newValue === '1'); // the user chose in another tab
        else if (isLeftNote(key, newValue)) takeOverAgain();
      },
    ],
    [window, 'online', () => setOnline(true)],
    [window, 'offline', () => setOnline(false)],
  ];
  for (const [target, name, listener] of listeners) target.addEventListener(name, listener);

  return {
    settings: takeOver,
    queueChanged() {
      if (journal) cancelSave ??= schedule(saveQueue, 0);
    },
    storageErrors: () => journal?.errors() ?? 0,
    forget() {
      journal?.forgetOwn();
      takeOverAgain(); // claimed, and so counted, as the user is opted out
    },
    optOutChanged(optedOut) {
      for (const other of pageClients) if (other !== client) other.setOptOut(optedOut);
    },
    detach() {
      if (cancelSave) saveQueue(); // the partial batch as it is now (empty once close() cut it)
      for (const [target, name, listener] of listeners) target.removeEventListener(name, listener);
      pageClients.delete(client);
      journal?.release();
    },
  };
}
