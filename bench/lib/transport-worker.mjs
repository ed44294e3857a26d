// CPU per request of one Node transport, one request at a time, 10-event JSON bodies.
//   node [--import tsx] transport-worker.mjs <kind> <collectorUrl> <requests> [module]
// odp-sdk-http loads src/platform/node/http-transport.ts, or `module` (a path from the repository root) to compare another version.
// Prints one JSON line: { kind, requests, cpuUsPerRequest, wallUsPerRequest }.
import http from 'node:http';
import { createHttpPost } from './http-post.mjs';
import { API_KEY, wireEventOf } from './workload.mjs';

const [kind, base, requestsText = '3000', module = 'src/platform/node/http-transport.ts'] = process.argv.slice(2);
const requests = Number(requestsText);
const url = `${base}/v3/events`;
const headers = { 'content-type': 'application/json', 'x-api-key': API_KEY };

async function makeSender() {
  switch (kind) {
    case 'fetch':
      return async (body) => {
        const res = await fetch(url, { method: 'POST', headers, body });
        await res.text();
        if (!res.ok) throw new Error(`status ${res.status}`);
      };
    case 'cross-fetch': {
      const { default: crossFetch } = await import('cross-fetch');
      return async (body) => {
        const res = await crossFetch(url, { method: 'POST', headers, body });
        await res.text();
        if (!res.ok) throw new Error(`status ${res.status}`);
      };
    }
    case 'node-http':
    case 'node-http-no-keepalive': {
      const agent = kind === 'node-http' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: false });
      return createHttpPost(url, agent);
    }
    case 'odp-sdk-http': {
      // The SDK's own Node transport, from source (this process runs with --import tsx).
      const { createHttpTransport } = await import(new URL(`../../${module}`, import.meta.url).href);
      const transport = createHttpTransport({ maxSockets: 1 });
      return async (body) => {
        const res = await transport.request({ method: 'POST', url, headers, body, timeoutMs: 10_000 });
        if (res.status >= 300) throw new Error(`status ${res.status}`);
      };
    }
    default:
      throw new Error(`unknown transport ${kind}`);
  }
}

const send = await makeSender();
const bodies = [];
for (let b = 0; b < 100; b++) bodies.push(JSON.stringify(Array.from({ length: 10 }, (_, i) => wireEventOf(b * 10 + i))));
for (let i = 0; i < 300; i++) await send(bodies[i % bodies.length]); // warm up the JIT and the connection
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < requests; i++) await send(bodies[i % bodies.length]);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ kind, requests, cpuUsPerRequest: (cpu.user + cpu.system) / requests, wallUsPerRequest: (wall * 1000) / requests })}\n`);
process.exit(0);
