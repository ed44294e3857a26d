// A Vercel Edge Function that sends an ODP event per request, delivered after the response by
// the request context's waitUntil. In Next.js, pass `waitUntil` from '@vercel/functions' instead.
// Set ODP_SDK_KEY (and, for a local collector, ODP_DATAFILE_URL_TEMPLATE) in the project's env.
import { createInstance, SDK_BUILD } from 'odp-sdk';

export const config = { runtime: 'edge' };

// Fetched once per instance; each request gets its own client (see the README's Runtimes section).
let datafile;

export default async function handler(request, context) {
  datafile ??= await loadDatafile();
  const client = createInstance({ datafile, waitUntil: (promise) => context.waitUntil(promise) });
  const count = Number(new URL(request.url).searchParams.get('events') ?? 1);
  for (let i = 0; i < count; i++) {
    client.sendOdpEvent({ action: 'edge_request', identifiers: { fs_user_id: `edge-user-${i}` } });
  }
  return new Response(`queued ${count} events (odp-sdk build: ${SDK_BUILD})\n`);
}

async function loadDatafile() {
  const template = process.env.ODP_DATAFILE_URL_TEMPLATE ?? 'https://cdn.optimizely.com/datafiles/{sdkKey}.json';
  const response = await fetch(template.replace('{sdkKey}', process.env.ODP_SDK_KEY));
  if (!response.ok) throw new Error(`datafile: HTTP ${response.status}`);
  return response.text();
}
