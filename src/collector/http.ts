import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface Body {
  text: string;
  bytes: number;
  /** True when the body was longer than keepBytes: `text` is then '' (the bytes were counted, not kept). */
  dropped: boolean;
}

/** Reads a request body. Beyond keepBytes it only counts, so an oversized body costs no memory. Resolves undefined if the client went away. */
export function readBody(req: IncomingMessage, keepBytes = Number.POSITIVE_INFINITY): Promise<Body | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= keepBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => {
      const dropped = bytes > keepBytes;
      resolve({ text: dropped ? '' : decode(req, Buffer.concat(chunks)), bytes, dropped });
    });
    req.on('error', () => resolve(undefined));
    req.on('close', () => resolve(undefined)); // no-op when 'end' already resolved
  });
}

/** `Content-Encoding: gzip` bodies (the SDK's odp.compression) are inflated; one that does not inflate reads as '' (so: not JSON). */
function decode(req: IncomingMessage, raw: Buffer): string {
  if (headerValue(req, 'content-encoding')?.trim().toLowerCase() !== 'gzip') return raw.toString('utf8');
  try {
    return gunzipSync(raw).toString('utf8');
  } catch {
    return '';
  }
}

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** CORS headers sent on every answer, so a browser page can read any result (including Retry-After). */
export function corsHeaders(req: IncomingMessage): OutgoingHttpHeaders {
  return {
    'access-control-allow-origin': headerValue(req, 'origin') ?? '*',
    'access-control-expose-headers': 'Retry-After, ETag, Last-Modified',
    vary: 'Origin',
  };
}

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...corsHeaders(req),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** ODP-style status body: {"title":"Accepted","status":202,"timestamp":"..."} plus an optional message. */
export function statusBody(status: number, message?: string): Record<string, unknown> {
  const body: Record<string, unknown> = { title: STATUS_CODES[status] ?? 'Unknown', status, timestamp: new Date().toISOString() };
  if (message !== undefined) body.message = message;
  return body;
}
