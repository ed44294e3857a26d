// The floor's way of sending: one POST over `node:http` with the given agent, resolved on a 2xx.
// Shared by the floor contender and the transport benchmark's node:http baselines, so both measure the same code.
import http from 'node:http';
import { API_KEY } from './workload.mjs';

export function createHttpPost(url, agent) {
  const target = new URL(url);
  return (body) =>
    new Promise((resolve, reject) => {
      const req = http.request({
        agent,
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'content-length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => (res.statusCode >= 200 && res.statusCode < 300 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
}
