// Deno: `deno add npm:odp-sdk`, then
//   ODP_SDK_KEY=... deno run --allow-net --allow-env=ODP_SDK_KEY,ODP_DATAFILE_URL_TEMPLATE,ODP_EVENTS send-events.mjs
// Deno loads the SDK's fetch build (the `deno` export condition). Timers do not keep Deno alive,
// so the script awaits close(): it ends as soon as every event is delivered or dropped.
import { createInstance, SDK_BUILD } from 'odp-sdk';

const client = createInstance({
  sdkKey: Deno.env.get('ODP_SDK_KEY'),
  datafileUrlTemplate: Deno.env.get('ODP_DATAFILE_URL_TEMPLATE'),
});
await client.onReady({ timeoutMs: 5000 });

const count = Number(Deno.env.get('ODP_EVENTS') ?? 10);
for (let i = 0; i < count; i++) client.sendOdpEvent({ action: 'deno_script', identifiers: { fs_user_id: `deno-user-${i}` } });

await client.close({ timeoutMs: 5000 });
console.log(`odp-sdk build: ${SDK_BUILD}; ${JSON.stringify(client.stats())}`);
