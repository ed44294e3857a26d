// A tiny hash-routed app: one client for the page's whole life, a pageview per route, and a user
// context (Real-Time Segments) for a signed-in user (`?userId=`). Segments are an extension: a page
// that only sends events leaves this import out and does not carry them.
import { createInstance } from 'odp-sdk';
import { segments } from 'odp-sdk/segments';

const params = new URLSearchParams(location.search);
const collector = params.get('collector') || 'http://127.0.0.1:8787';
const show = (line) => (document.getElementById('log').textContent += `${line}\n`);

const client = createInstance({
  sdkKey: params.get('sdkKey') || 'ExampleSdkKey',
  datafileUrlTemplate: `${collector}/datafiles/{sdkKey}.json`,
  vuid: true,
  odp: { flushIntervalMs: 200 },
  segments,
});
window.odpClient = client; // for the browser tests
client.on('delivered', ({ count }) => show(`delivered ${count} events`));

function route() {
  const path = location.hash.slice(1) || '/';
  document.getElementById('view').textContent = `page ${path}`;
  const error = client.sendOdpEvent({ action: 'pageview', identifiers: { email: 'jane@example.com' }, data: { page: path } });
  if (error) show(`not sent: ${error.message}`);
}

await client.onReady({ timeoutMs: 10000 });
show(`ready; visitor ${client.getVuid()}`);
window.addEventListener('hashchange', route);
route();
const userId = params.get('userId');
if (userId) {
  const user = client.createUserContext(userId);
  await user?.fetchQualifiedSegments();
  window.odpUser = user; // for the browser tests
  show(`${userId} qualifies for ${user?.qualifiedSegments?.join(', ') || 'no segment'}`);
}
