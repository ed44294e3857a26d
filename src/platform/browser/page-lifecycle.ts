import type { OdpSettings } from '../../types';
import { OPT_OUT_STORAGE_KEY, type ClientHandle, type HostLifecycle, type KeyValueStorage } from '../platform';
import { EventJournal, isLeftNote } from './event-journal';
import { randomUuid } from './random-uuid';

/**
 * Chromium lets keep-alive bodies in flight total 64 KiB for the whole page; this SDK leaves
 * 4 KiB of that to other scripts' beacons.
 */
export const KEEPALIVE_BYTES = 61_440;

/**
 * Drives one client through the page's life: `visibilitychange` and `pagehide` (never `unload`,
 * which bars the back/forward cache), `pageshow`, `online`/`offline`. Leaving sends only what the
 * server allows now; everything undelivered stays journaled until a 2xx for it is seen.
 */
export function attachPage(client: ClientHandle, storage: KeyValueStorage | undefined, schedule: (fn: () => void, ms: number) => () => void): HostLifecycle | undefined {
  if (typeof document === 'undefined' || typeof addEventListener !== 'function') return undefined;
  const { dispatcher } = client;
  const journal = storage && client.maxStoredBytes > 0 ? new EventJournal(storage, client.maxStoredBytes, randomUuid) : undefined;
  if (journal) dispatcher.observer = { added: (batch) => journal.put(batch), removed: (batch) => journal.remove(batch) };
  let online = navigator.onLine !== false;
  dispatcher.hold('offline', !online);
  let cancelSave: (() => void) | undefined;
  let publicKey: string | undefined;
  const takeOver = (odp: OdpSettings) => {
    publicKey = odp.publicKey;
    journal?.claim(odp.publicKey, ({ events, notBefore }) => {
      if (!events.length || client.optedOut()) return; // opted out: what was claimed is forgotten
      dispatcher.pauseUntil(notBefore);
      const taken = client.restore(odp, events);
      client.logger.info(`sending ${taken} events an earlier page left undelivered`);
      if (taken < events.length) {
        // The queue is full, or the client closed or changed settings meanwhile: the rest stays stored for a later page.
        journal?.keepForLater(odp.publicKey, events.slice(taken));
        client.logger.warn(`${events.length - taken} stored events could not be taken now (queue full, or the client closed); they stay stored for the next page`);
      }
    });
  };

  const saveQueue = () => {
    cancelSave?.();
    cancelSave = undefined;
    const { odp, events } = client.pending();
    if (odp) journal?.putQueue(odp.publicKey, events);
  };
  /** Left for good (`pagehide` not into the back/forward cache): this page's entries may be taken over. */
  let left = false;
  /** The page may not come back: batch what is queued, send what the server allows now. */
  const hide = () => {
    client.cutBatch();
    if (online) dispatcher.sendNow();
    journal?.mark(left, dispatcher.notBefore);
  };
  const listeners: Array<[EventTarget, string, (event: Event) => void]> = [
    // Chromium fires it after `pagehide` too, as the page goes.
    [document, 'visibilitychange', () => document.visibilityState === 'hidden' && hide()],
    [
      window,
      'pagehide',
      (event) => {
        dispatcher.handOff();
        dispatcher.hold('left', true);
        left = !(event as PageTransitionEvent).persisted;
        hide();
      },
    ],
    [
      window,
      'pageshow',
      (event) => {
        if (!(event as PageTransitionEvent).persisted) return;
        left = false;
        journal?.mark(false, dispatcher.notBefore);
        dispatcher.requeueUnconfirmed();
        dispatcher.hold('left', false);
      },
    ],
    [
      window,
      'storage',
      // Another tab was left for good: what it could not deliver is this tab's to send now.
      (event) => {
        const { key, newValue } = event as StorageEvent;
        if (key === OPT_OUT_STORAGE_KEY && newValue) return client.setOptOut(newValue === '1'); // the user chose in another tab
        const odp = client.pending().odp;
        if (odp && odp.publicKey === publicKey && isLeftNote(key, newValue)) takeOver(odp);
      },
    ],
    [
      window,
      'online',
      () => {
        online = true;
        dispatcher.forgiveFailures();
        dispatcher.hold('offline', false);
      },
    ],
    [
      window,
      'offline',
      () => {
        online = false;
        dispatcher.hold('offline', true);
      },
    ],
  ];
  for (const [target, name, listener] of listeners) target.addEventListener(name, listener);

  return {
    settings: takeOver,
    queueChanged() {
      if (journal) cancelSave ??= schedule(saveQueue, 0);
    },
    storageErrors: () => journal?.errors ?? 0,
    forget: () => journal?.clear(),
    detach() {
      cancelSave?.();
      for (const [target, name, listener] of listeners) target.removeEventListener(name, listener);
      journal?.release();
    },
  };
}
