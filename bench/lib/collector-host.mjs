// The project's collector in its own process (run with `node --import tsx`), steered over IPC:
// it tells the parent the moment it holds every expected event, so nobody has to poll it.
import { startCollector } from '../../collector/src/collector.ts';
import { wallNow } from './workload.mjs';

const collector = await startCollector({ port: 0 });
const DISTINCT_GRACE_MS = 10_000;
const send = (message) => process.send?.(message);

// When the last event arrived (wall clock, within 2 ms): the steady shape's "last send to last arrival".
let lastEventAt = null;
let seenEvents = 0;
setInterval(() => {
  const events = collector.stats().events;
  if (events !== seenEvents) {
    seenEvents = events;
    lastEventAt = wallNow();
  }
}, 2).unref();

async function idle(limitMs) {
  // Sockets of the last contender must be gone before a reset, or they count as open connections.
  const until = Date.now() + limitMs;
  while (collector.stats().openConnections > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

process.on('message', async (message) => {
  switch (message.cmd) {
    case 'reset':
      if (message.waitIdle) await idle(3000);
      collector.reset();
      seenEvents = 0;
      lastEventAt = null;
      send({ id: message.id, ok: true, stats: collector.stats() });
      return;
    case 'expect': {
      // Acknowledge at once; 'done' follows when the collector holds n events, or when time runs out.
      send({ id: message.id, ok: true });
      let timedOut = false;
      let at;
      try {
        await collector.waitForEvents(message.n, message.timeoutMs);
        at = wallNow();
        // waitForEvents counts duplicates too (retries whose answer was lost): give the missing
        // distinct ids a grace period; a contender that lost events is reported as of n events.
        const until = Date.now() + DISTINCT_GRACE_MS;
        while (collector.stats().distinctIds < message.n && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
        if (collector.stats().distinctIds >= message.n) at = wallNow();
      } catch {
        timedOut = true;
      }
      send({ type: 'done', at: at ?? wallNow(), timedOut, stats: collector.stats(), lastEventAt });
      return;
    }
    case 'stats':
      send({ id: message.id, ok: true, stats: collector.stats(), lastEventAt });
      return;
    case 'faults':
      collector.setFaults(message.faults);
      send({ id: message.id, ok: true });
      return;
    case 'wire': {
      // Bytes on the wire: the request bodies as sent (compressed or not), from each batch's Content-Length.
      let bytes = 0;
      for (const batch of collector.batches) bytes += Number(batch.headers['content-length'] ?? 0);
      send({ id: message.id, ok: true, wire: { bytes, requests: collector.batches.length, gzip: collector.batches.filter((b) => b.headers['content-encoding'] === 'gzip').length } });
      return;
    }
    case 'close':
      await collector.close();
      process.exit(0);
  }
});
// If the parent dies, do not linger.
process.on('disconnect', () => process.exit(0));
send({ type: 'listening', url: collector.url });
