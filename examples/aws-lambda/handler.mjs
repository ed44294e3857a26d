// An AWS Lambda handler (Node.js runtime). Lambda runs one invocation at a time per instance and
// freezes it once the handler returns, so one client per instance is safe, and the handler awaits
// flush() before returning: the events are delivered (or dropped, with a reason) by then.
import { createInstance, SDK_BUILD } from 'odp-sdk';

const client = createInstance({
  sdkKey: process.env.ODP_SDK_KEY,
  datafileUrlTemplate: process.env.ODP_DATAFILE_URL_TEMPLATE,
});

export async function handler(event) {
  await client.onReady({ timeoutMs: 3000 });
  const users = Array.isArray(event?.users) ? event.users : [];
  for (const userId of users) client.sendOdpEvent({ action: 'lambda_invoked', identifiers: { fs_user_id: String(userId) } });
  await client.flush();
  return { statusCode: 200, body: JSON.stringify({ build: SDK_BUILD, sent: users.length, stats: client.stats() }) };
}
