// The three contenders behind one small interface, so the feeding loops are the same for each SDK.
//   SDKs:  argsOf(i) → the call's arguments, built outside the clock; settle() → resolves once all sent is delivered;
//          sendRange(args, from, to, onReject) → sends args[from..to), returns where queueFull stopped it;
//          room(need) → resolves once the SDK could take `need` more events; close().
//   floor: burst(args) → takes every event at once, then POSTs them one batch at a time;
//          run(n) → builds and POSTs batch by batch, one request at a time (no backlog);
//          send(i) → the steady shape: builds event i, POSTs each full batch at once; close().
//   finish() (SDKs): what a server does at the end of the steady shape: close() (odp-sdk with a 60 s deadline).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createHttpPost } from './http-post.mjs';
import { ACTION, TYPE, identifiersOf, dataOf, wireEventOf } from './workload.mjs';

export async function createContender(kind, options) {
  switch (kind) {
    case 'odp':
      return createOdp(options);
    case 'optimizely':
      return createOptimizely(options);
    case 'floor':
      return createFloor(options);
    default:
      throw new Error(`unknown contender ${kind}`);
  }
}

async function createOdp({ datafile, batchSize = 10, queueSize, compression }) {
  // run.mjs snapshots the built bundle, so a rebuild by someone else mid-run cannot pull it away.
  const { createInstance } = await import(process.env.ODP_BENCH_SDK ?? new URL('../../dist/node/index.mjs', import.meta.url).href);
  // Defaults, except what the shape sets. BENCH_ODP_OPTIONS (JSON) adds odp options, for experiments outside the published table.
  const extra = process.env.BENCH_ODP_OPTIONS ? JSON.parse(process.env.BENCH_ODP_OPTIONS) : {};
  const odp = { ...(batchSize === 10 ? {} : { batchSize }), ...(queueSize ? { queueSize } : {}), ...(compression ? { compression } : {}), ...extra };
  const client = createInstance({ datafile, ...(Object.keys(odp).length ? { odp } : {}) });
  await client.onReady({ timeoutMs: 5000 });
  return {
    client,
    argsOf: (i) => [identifiersOf(i), dataOf(i)],
    sendRange(args, from, to, onReject) {
      for (let k = from; k < to; k++) {
        const a = args[k];
        const error = client.sendOdpEvent(TYPE, ACTION, a[0], a[1]);
        if (error !== null) {
          if (error.code === 'queueFull') return k;
          onReject(error.code);
        }
      }
      return to;
    },
    room(need) {
      const held = () => {
        const s = client.stats();
        return s.queued + s.inFlight;
      };
      // The queue was full when this is called, so what it holds now is its capacity.
      const target = Math.max(0, held() - need);
      return new Promise((resolve) => {
        const check = () => {
          if (held() > target) return;
          offDelivered();
          offDropped();
          resolve();
        };
        const offDelivered = client.on('delivered', check);
        const offDropped = client.on('dropped', check);
        check();
      });
    },
    settle: () => client.flush(),
    finish: () => client.close({ timeoutMs: 60_000 }),
    close: () => client.close(),
  };
}

async function createOptimizely({ datafile, batchSize = 10 }) {
  const opt = await import('@optimizely/optimizely-sdk');
  const client = opt.createInstance({
    projectConfigManager: opt.createStaticProjectConfigManager({ datafile: JSON.stringify(datafile) }),
    odpManager: opt.createOdpManager(batchSize === 10 ? {} : { eventBatchSize: batchSize }),
  });
  await client.onReady({ timeout: 5000 });
  return {
    client,
    argsOf: (i) => [new Map(Object.entries(identifiersOf(i))), new Map(Object.entries(dataOf(i)))],
    sendRange(args, from, to) {
      // Optimizely's sendOdpEvent returns nothing and has no queue bound: it never pushes back.
      for (let k = from; k < to; k++) {
        const a = args[k];
        client.sendOdpEvent(ACTION, TYPE, a[0], a[1]);
      }
      return to;
    },
    room: () => Promise.resolve(),
    finish: () => Promise.race([client.close(), new Promise((resolve) => setTimeout(resolve, 60_000).unref())]),
    close: () => Promise.race([client.close(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]),
  };
}

function createFloor({ url, batchSize = 10, sockets = 1 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const post = createHttpPost(new URL('/v3/events', url).href, agent);
  let pending = [];
  const inFlight = new Set();
  const postPending = () => {
    const request = post(JSON.stringify(pending));
    pending = [];
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };
  return {
    argsOf: (i) => [identifiersOf(i), dataOf(i)],
    async burst(args) {
      // What any client must do with a burst it cannot send at once: hold each event in wire form, with its id.
      const queue = new Array(args.length);
      for (let i = 0; i < args.length; i++) queue[i] = wireEventFromArgs(args[i]);
      for (let start = 0; start < queue.length; start += batchSize) {
        const end = Math.min(start + batchSize, queue.length);
        const body = JSON.stringify(queue.slice(start, end));
        queue.fill(undefined, start, end); // a sent event is released, as an SDK's delivered batch is
        await post(body);
      }
    },
    async run(n) {
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(start + batchSize, n);
        const events = [];
        for (let i = start; i < end; i++) events.push(wireEventOf(i));
        await post(JSON.stringify(events));
      }
    },
    send(i) {
      pending.push(wireEventOf(i));
      if (pending.length >= batchSize) postPending();
    },
    async drain() {
      if (pending.length) postPending();
      await Promise.all(inFlight);
    },
    close: async () => agent.destroy(),
  };
}

/** The floor's wire event from the same arguments the SDKs get (odp-sdk's form). */
function wireEventFromArgs([identifiers, data]) {
  return {
    type: TYPE,
    action: ACTION,
    identifiers,
    data: { idempotence_id: randomUUID(), data_source_type: 'sdk', data_source: 'floor', data_source_version: '0', ...data },
  };
}
