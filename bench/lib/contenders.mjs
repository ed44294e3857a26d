// The three contenders behind one small interface, so the feeding loop is the same for each SDK.
//   SDKs:  argsOf(i) → the call's arguments, built outside the clock;
//          sendRange(args, from, to, onReject) → sends args[from..to), returns where queueFull stopped it;
//          room(need) → resolves once the SDK could take `need` more events; close().
//   floor: run(n) → POSTs every batch, one request at a time; close().
import http from 'node:http';
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

async function createOdp({ datafile, batchSize }) {
  // run.mjs snapshots the built bundle, so a rebuild by someone else mid-run cannot pull it away.
  const { createInstance } = await import(process.env.ODP_BENCH_SDK ?? new URL('../../dist/node/index.mjs', import.meta.url).href);
  // Defaults everywhere; only the batch size is set, and only when a run asks for another one.
  // BENCH_ODP_OPTIONS (JSON) adds odp options, for experiments outside the published table.
  const extra = process.env.BENCH_ODP_OPTIONS ? JSON.parse(process.env.BENCH_ODP_OPTIONS) : {};
  const odp = { ...(batchSize === 10 ? {} : { batchSize }), ...extra };
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
    close: () => client.close(),
  };
}

async function createOptimizely({ datafile, batchSize }) {
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
    close: () => Promise.race([client.close(), new Promise((resolve) => setTimeout(resolve, 5000).unref())]),
  };
}

function createFloor({ url, batchSize }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = createHttpPost(new URL('/v3/events', url).href, agent);
  return {
    async run(n) {
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(start + batchSize, n);
        const events = [];
        for (let i = start; i < end; i++) events.push(wireEventOf(i));
        await post(JSON.stringify(events));
      }
    },
    close: async () => agent.destroy(),
  };
}
