// `npm start`: run the example against the embedded default, a local ODP-compatible collector
// that prints every event it receives and answers Real-Time Segments queries for its example users
// (user123: has_email; user100: has_email, cart_abandoner). Both exit when the example is done.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The collector's bin builds it first when its build is missing or stale.
const collector = spawn(process.execPath, ['collector/bin/odp-sdk-collector.js', '--port', process.env.ODP_COLLECTOR_PORT ?? '0'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});

const url = await new Promise((resolve, reject) => {
  const lines = createInterface({ input: collector.stdout });
  lines.on('line', (line) => {
    console.log(line);
    const match = /listening on (http:\/\/\S+)/.exec(line);
    if (match) resolve(match[1]);
  });
  collector.on('exit', (code) => reject(new Error(`the collector exited (${code}) before listening`)));
});

const example = spawn(process.execPath, ['examples/node/send-events.mjs'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ODP_DATAFILE_URL_TEMPLATE: `${url}/datafiles/{sdkKey}.json` },
});
const code = await new Promise((resolve) => example.on('exit', (exitCode) => resolve(exitCode ?? 1)));

const stats = await (await fetch(`${url}/stats`)).json();
console.log('[collector] stats:', JSON.stringify(stats));
collector.kill('SIGTERM');
await new Promise((resolve) => collector.on('exit', resolve));
console.log('\nTo watch events arrive live: `npm run collector` (or `npm run collector -- --port=PORT`), open http://127.0.0.1:8787/');
console.log("and in another terminal: ODP_DATAFILE_URL_TEMPLATE='http://127.0.0.1:8787/datafiles/{sdkKey}.json' node examples/node/send-events.mjs");
process.exit(code);
