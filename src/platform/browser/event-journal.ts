import { utf8Length } from '../../core/values';
import type { OdpWireEvent } from '../../types';
import type { EventJournal } from '../platform';

const PREFIX = 'odp-sdk:';
const TAB_KEY = 'odp-sdk-tab';
/** An entry no page has written for this long belongs to a page that is gone (crashed, or evicted from the bfcache). */
const STALE_MS = 3_600_000;

/** What one page stores per ODP key: written at `t`, `o` once the page was left for good, the events `e`. */
interface Entry {
  t: number;
  o: 0 | 1;
  e: OdpWireEvent[];
}

/**
 * Undelivered events in localStorage, one entry per ODP public key and per tab
 * (`odp-sdk:{publicKey}:{tabId}`). The tab id lives in sessionStorage, so a reload finds its
 * own entry, while another tab only claims entries of pages that were left or went stale:
 * two open tabs never send each other's events in the normal case. Never throws.
 */
export function createEventJournal(local: Storage, session: Storage | undefined): EventJournal {
  let tab = '';
  try {
    tab = session?.getItem(TAB_KEY) ?? '';
    if (!tab) session?.setItem(TAB_KEY, (tab = Math.random().toString(36).slice(2)));
  } catch {
    // No sessionStorage: this page's entries are claimed like a left page's.
  }
  tab ||= Math.random().toString(36).slice(2);
  const written = new Set<string>();

  const journal: EventJournal = {
    errors: 0,
    claim(publicKey) {
      const events: OdpWireEvent[] = [];
      const ids = new Set<unknown>();
      try {
        const prefix = `${PREFIX}${publicKey}:`;
        for (let i = local.length; i--; ) {
          const key = local.key(i);
          if (!key?.startsWith(prefix)) continue;
          const entry = read(local.getItem(key));
          if (key !== prefix + tab && entry && !entry.o && entry.t > Date.now() - STALE_MS) continue; // a live tab's
          local.removeItem(key);
          for (const event of entry?.e ?? []) {
            const id = event?.data?.idempotence_id;
            if (typeof event?.action === 'string' && typeof id === 'string' && !ids.has(id)) {
              ids.add(id);
              events.push(event);
            }
          }
        }
      } catch {
        // Storage went away: what was read is kept.
      }
      return events;
    },
    save(byKey, maxBytes, leaving) {
      for (const publicKey of Object.keys(byKey)) written.add(publicKey);
      for (const publicKey of written) {
        const key = `${PREFIX}${publicKey}:${tab}`;
        const parts: string[] = [];
        let bytes = 0;
        for (const event of byKey[publicKey] ?? []) {
          const json = JSON.stringify(event);
          bytes += utf8Length(json) + 1;
          if (bytes > maxBytes) break;
          parts.push(json);
        }
        try {
          if (parts.length) local.setItem(key, `{"t":${Date.now()},"o":${leaving ? 1 : 0},"e":[${parts.join(',')}]}`);
          else local.removeItem(key);
        } catch {
          journal.errors++;
          try {
            local.removeItem(key); // a stale copy would re-send delivered events
          } catch {
            // Storage is gone altogether.
          }
        }
      }
    },
  };
  return journal;
}

/** An entry, or null when it is corrupt (it is then removed and ignored). */
function read(text: string | null): Entry | null {
  try {
    const entry = JSON.parse(text ?? '') as Entry;
    return typeof entry?.t === 'number' && Array.isArray(entry.e) ? entry : null;
  } catch {
    return null;
  }
}
