import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpTransport } from '../../src/platform/node/http-transport';
import { TransportError, type Transport } from '../../src/transport/transport';

// The one module that needs a socket: a real server on 127.0.0.1, run by Stryker but not by test:unit.
type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
let handler: Handler;
let server: http.Server;
let base: string;
let transport: Transport;
/** The bytes of the last request body, as received. */
let raw: Buffer = Buffer.alloc(0);

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      raw = Buffer.concat(chunks);
      handler(req, raw.toString('utf8'), res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  transport?.close();
  transport = createHttpTransport({ maxSockets: 2 });
});

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

describe('node:http transport', () => {
  it('sends method, path with query, headers, body and its byte length; reads status, headers and a multi-chunk body', async () => {
    let seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string } | undefined;
    handler = (req, body, res) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      res.writeHead(202, { 'retry-after': '3', 'set-cookie': ['a=1', 'b=2'] });
      res.write('é'.repeat(10));
      setImmediate(() => res.end('-end'));
    };
    const response = await transport.request({ method: 'POST', url: `${base}/v3/events?x=1`, headers: { 'x-api-key': 'k', 'content-type': 'application/json' }, body: '["é"]', timeoutMs: 5_000 });
    expect(seen).toMatchObject({ method: 'POST', url: '/v3/events?x=1', body: '["é"]' });
    expect(seen!.headers).toMatchObject({ 'x-api-key': 'k', 'content-type': 'application/json', 'content-length': '6', connection: 'keep-alive' });
    expect(response.status).toBe(202);
    expect(response.body).toBe(`${'é'.repeat(10)}-end`);
    expect(response.header('retry-after')).toBe('3');
    expect(response.header('set-cookie')).toBe('a=1, b=2');
    expect(response.header('absent')).toBeUndefined();
  });

  it("compression 'gzip': the body is gzipped, with content-encoding and the compressed length; 'none' and no body go plain", async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const bodies: Buffer[] = [];
    handler = (req, _body, res) => {
      seen.push(req.headers);
      bodies.push(raw);
      res.end();
    };
    const body = JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ action: 'a', i, text: 'é'.repeat(20) })));
    await transport.request({ method: 'POST', url: `${base}/v3/events`, headers: {}, body, timeoutMs: 5_000, compression: 'gzip' });
    expect(seen[0]).toMatchObject({ 'content-encoding': 'gzip', 'content-length': String(bodies[0]!.length) });
    expect(bodies[0]!.length).toBeLessThan(Buffer.byteLength(body));
    expect(gunzipSync(bodies[0]!).toString('utf8')).toBe(body);
    await transport.request({ method: 'POST', url: `${base}/v3/events`, headers: {}, body, timeoutMs: 5_000, compression: 'none' });
    expect(seen[1]!['content-encoding']).toBeUndefined();
    expect(bodies[1]!.toString('utf8')).toBe(body);
    await transport.request({ method: 'GET', url: `${base}/x`, headers: {}, timeoutMs: 5_000, compression: 'gzip' });
    expect(seen[2]!['content-encoding']).toBeUndefined();
    expect(seen[2]!['content-length']).toBeUndefined();
  });

  it('a GET without a body has no content-length; a one-chunk answer; the parsed URL is reused and re-parsed when it changes', async () => {
    const urls: string[] = [];
    handler = (req, _body, res) => {
      urls.push(`${req.url} ${req.headers['content-length'] ?? 'none'}`);
      res.end('{}');
    };
    const get = (path: string) => transport.request({ method: 'GET', url: `${base}${path}`, headers: {}, timeoutMs: 5_000 });
    expect((await get('/a')).body).toBe('{}');
    await get('/a');
    await get('/b');
    expect(urls).toEqual(['/a none', '/a none', '/b none']);
  });

  it('keeps the connection alive between requests', async () => {
    const ports: number[] = [];
    handler = (req, _body, res) => {
      ports.push(req.socket.remotePort!);
      res.end('ok');
    };
    const get = () => transport.request({ method: 'GET', url: `${base}/`, headers: {}, timeoutMs: 5_000 });
    await get();
    await get();
    expect(ports[1]).toBe(ports[0]);
  });

  it('no answer within timeoutMs: a timeout error', async () => {
    handler = () => {}; // never answers
    const error = await failure(transport.request({ method: 'GET', url: `${base}/slow`, headers: {}, timeoutMs: 30 }));
    expect(error.kind).toBe('timeout');
    expect(error.message).toBe('no answer within 30 ms');
  });

  it('a timeout after the headers, mid-body: still a timeout error', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200);
      res.write('partial');
    };
    const error = await failure(transport.request({ method: 'GET', url: `${base}/stall`, headers: {}, timeoutMs: 50 }));
    expect(error.kind).toBe('timeout');
  });

  it('the connection cut mid-answer: a network error', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => res.socket?.destroy());
    };
    const error = await failure(transport.request({ method: 'GET', url: `${base}/cut`, headers: {}, timeoutMs: 5_000 }));
    expect(error.kind).toBe('network');
    expect(error.message).toBe('the connection closed mid-answer');
  });

  it('nobody listening: a network error with the error code', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(transport.request({ method: 'GET', url: `http://127.0.0.1:${port}/`, headers: {}, timeoutMs: 5_000 }));
    expect(error).toMatchObject({ kind: 'network', message: 'ECONNREFUSED' });
  });

  it('an invalid URL: a network error', async () => {
    const error = await failure(transport.request({ method: 'GET', url: 'not a url', headers: {}, timeoutMs: 5_000 }));
    expect(error).toMatchObject({ kind: 'network', message: 'invalid URL' });
  });

  it('https: speaks TLS (a plain HTTP server cannot answer it)', async () => {
    handler = (_req, _body, res) => res.end('plain');
    const error = await failure(transport.request({ method: 'GET', url: base.replace('http:', 'https:'), headers: {}, timeoutMs: 5_000 }));
    expect(error.kind).toBe('network');
  });

  it('an IPv6 literal loses its brackets', async () => {
    const v6 = http.createServer((_req, res) => res.end('six'));
    const listening = await new Promise<boolean>((resolve) => {
      v6.once('error', () => resolve(false));
      v6.listen(0, '::1', () => resolve(true));
    });
    if (!listening) return; // no IPv6 loopback on this machine
    try {
      const port = (v6.address() as AddressInfo).port;
      expect((await transport.request({ method: 'GET', url: `http://[::1]:${port}/`, headers: {}, timeoutMs: 5_000 })).body).toBe('six');
    } finally {
      v6.closeAllConnections();
      await new Promise((resolve) => v6.close(resolve));
    }
  });

  it('close() aborts what is in flight: an aborted error', async () => {
    let arrived!: () => void;
    const received = new Promise<void>((resolve) => (arrived = resolve));
    handler = () => arrived();
    const pending = failure(transport.request({ method: 'GET', url: `${base}/hang`, headers: {}, timeoutMs: 5_000 }));
    await received;
    transport.close();
    expect(await pending).toMatchObject({ kind: 'aborted', message: 'the client was closed' });
  });

  it('a finished request is forgotten: close() afterwards does not fail later requests on a new transport', async () => {
    handler = (_req, _body, res) => res.end('ok');
    await transport.request({ method: 'GET', url: `${base}/`, headers: {}, timeoutMs: 5_000 });
    transport.close();
    const next = createHttpTransport({ maxSockets: 1 });
    expect((await next.request({ method: 'GET', url: `${base}/`, headers: {}, timeoutMs: 5_000 })).body).toBe('ok');
    next.close();
  });
});
