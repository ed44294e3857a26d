// A Cloudflare Worker that sends an ODP event per request, delivered after the response by
// ctx.waitUntil. Deploy with `npx wrangler deploy` (wrangler.toml beside this file); set
// ODP_SDK_KEY (and, for a local collector, ODP_DATAFILE_URL_TEMPLATE) as vars.
import { createInstance, SDK_BUILD } from 'odp-sdk';

// The datafile's text, fetched once per isolate. A string may be shared between requests; a
// client may not: Workers forbid I/O on behalf of another request, so each request gets its own.
let datafile;

export default {
  async fetch(request, env, ctx) {
    datafile ??= await loadDatafile(env);
    const client = createInstance({ datafile, waitUntil: (promise) => ctx.waitUntil(promise) });
    const count = Number(new URL(request.url).searchParams.get('events') ?? 1);
    for (let i = 0; i < count; i++) {
      client.sendOdpEvent({ action: 'worker_request', identifiers: { fs_user_id: `worker-user-${i}` }, data: { path: new URL(request.url).pathname } });
    }
    // No await: the batch goes out at the end of this task and waitUntil keeps the Worker alive for it.
    return new Response(`queued ${count} events (odp-sdk build: ${SDK_BUILD})\n`);
  },
};

async function loadDatafile(env) {
  const template = env.ODP_DATAFILE_URL_TEMPLATE ?? 'https://cdn.optimizely.com/datafiles/{sdkKey}.json';
  const response = await fetch(template.replace('{sdkKey}', env.ODP_SDK_KEY));
  if (!response.ok) throw new Error(`datafile: HTTP ${response.status}`);
  return response.text();
}
