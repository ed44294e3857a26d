// The SDK as a Node app uses it: fetch the datafile for an sdkKey, send events, close.
// Run by `npm start`, which points it at the local collector; point it at your own with
//   ODP_DATAFILE_URL_TEMPLATE='https://cdn.optimizely.com/datafiles/{sdkKey}.json' ODP_SDK_KEY=... node examples/node/send-events.mjs
import { createInstance } from 'odp-sdk';

const client = createInstance({
  sdkKey: process.env.ODP_SDK_KEY ?? 'ExampleSdkKey',
  datafileUrlTemplate: process.env.ODP_DATAFILE_URL_TEMPLATE,
  logLevel: 'info',
});
client.on('delivered', ({ count, status }) => console.log(`[example] delivered a batch of ${count} (HTTP ${status})`));
client.on('dropped', ({ reason, count }) => console.log(`[example] dropped ${count}: ${reason}`));

await client.onReady({ timeoutMs: 5000 });

const products = [['shirt', 50], ['socks', 8.5], ['hat', 22], ['scarf', 30]];
for (const [i, [item, price]] of products.entries()) {
  const error = client.sendOdpEvent({
    action: 'purchased',
    identifiers: { fs_user_id: `user${100 + i}`, email: `shopper${i}@example.com` },
    data: { item, price },
  });
  if (error) console.log(`[example] not sent: ${error.code}: ${error.message}`);
}
// The seed's positional form, with the FS-USER-ID spelling normalised to fs_user_id.
client.sendOdpEvent('fullstack', 'pageview', { 'FS-USER-ID': 'user100' }, { page: '/checkout' });

// Bad input is refused with a clear, specific error; nothing throws.
const refused = client.sendOdpEvent({ action: 'purchased', identifiers: {}, data: { price: NaN } });
console.log(`[example] refused as expected: ${refused?.code}: ${refused?.message}`);

// User contexts and Real-Time Segments. On a server there is no visitor id, so fs_user_id is the only
// identifier and no `identified` event is sent; the segments come from the datafile's audiences.
const shopper = client.createUserContext('user100', { age: 31 });
const fetched = await shopper.fetchQualifiedSegments();
console.log(`[example] user100 segments: ${JSON.stringify(shopper.qualifiedSegments)} (fetched: ${fetched})`);
// An unknown user: false, qualifiedSegments null, and one error line that says why; nothing throws.
const stranger = client.createUserContext('user999');
console.log(`[example] user999 fetched: ${await stranger.fetchQualifiedSegments()}, segments: ${stranger.qualifiedSegments}`);

await client.close({ timeoutMs: 5000 });
console.log('[example] stats after close():', JSON.stringify(client.stats()));

// A browser-like visitor: with `vuid: true` the user id and the visitor id are two identifiers,
// so creating the user context sends the implicit `identified` event that links them in ODP.
const visitor = createInstance({
  sdkKey: process.env.ODP_SDK_KEY ?? 'ExampleSdkKey',
  datafileUrlTemplate: process.env.ODP_DATAFILE_URL_TEMPLATE,
  vuid: true,
  odp: { flushIntervalMs: 0 },
});
await visitor.onReady({ timeoutMs: 5000 });
const user = visitor.createUserContext('user123', { age: 31 });
const ok = await user.fetchQualifiedSegments();
console.log(`[example] user123 (${visitor.getVuid()}) segments: ${JSON.stringify(user.qualifiedSegments)} (fetched: ${ok})`);
console.log(`[example] user123 has_email: ${user.isQualifiedFor('has_email')}, cart_abandoner: ${user.isQualifiedFor('cart_abandoner')}`);
await user.fetchQualifiedSegments(); // answered from the cache: no second request
await visitor.close({ timeoutMs: 5000 });
