// Bun: `bun add odp-sdk`, then
//   ODP_SDK_KEY=... bun send-events.mjs
// Bun loads the SDK's fetch build (the `bun` export condition: Bun's fetch costs less CPU than
// its node:http). Timers do not keep Bun alive, so the script awaits close() before it ends.
import { createInstance, SDK_BUILD } from 'odp-sdk';

const client = createInstance({
  sdkKey: process.env.ODP_SDK_KEY,
  datafileUrlTemplate: process.env.ODP_DATAFILE_URL_TEMPLATE,
});
await client.onReady({ timeoutMs: 5000 });

const count = Number(process.env.ODP_EVENTS ?? 10);
for (let i = 0; i < count; i++) client.sendOdpEvent({ action: 'bun_script', identifiers: { fs_user_id: `bun-user-${i}` } });

await client.close({ timeoutMs: 5000 });
console.log(`odp-sdk build: ${SDK_BUILD}; ${JSON.stringify(client.stats())}`);
