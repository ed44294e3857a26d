import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

/** Decompressed bodies larger than this are refused, so a small gzip bomb cannot exhaust memory. */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

export interface Body {
  /** The body as text, decompressed when it came with `Content-Encoding: gzip`; '' when longer than keepBytes (counted, not kept). */
  text: string;
  /** Bytes on the wire (compressed size for a gzip body). */
  bytes: number;
  /** Set when the body could not be decoded (unknown encoding, broken gzip); `text` is then ''. */
  problem?: { status: 400 | 415; message: string };
}

async function decode(raw: Buffer, encoding: string): Promise<Pick<Body, 'text' | 'problem'>> {
  if (encoding === '' || encoding === 'identity') return { text: raw.toString('utf8') };
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    return { text: '', problem: { status: 415, message: `content-encoding "${encoding}" is not supported (gzip or none)` } };
  }
  try {
    return { text: (await gunzipAsync(raw, { maxOutputLength: MAX_INFLATED_BYTES })).toString('utf8') };
  } catch (error) {
    return { text: '', problem: { status: 400, message: `gzip body could not be decompressed: ${error instanceof Error ? error.message : String(error)}` } };
  }
}

/**
 * Reads a request body and decodes its Content-Encoding. Beyond keepBytes (on the wire) it only counts,
 * so an oversized body costs no memory. Resolves undefined if the client went away.
 */
export function readBody(req: IncomingMessage, keepBytes = Number.POSITIVE_INFINITY): Promise<Body | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= keepBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    let ended = false;
    req.on('end', () => {
      ended = true;
      if (bytes > keepBytes) return resolve({ text: '', bytes });
      const encoding = headerValue(req, 'content-encoding')?.trim().toLowerCase() ?? '';
      decode(Buffer.concat(chunks), encoding).then((decoded) => resolve({ ...decoded, bytes }));
    });
    req.on('error', () => resolve(undefined));
    req.on('close', () => {
      if (!ended) resolve(undefined); // 'close' follows 'end' even for a complete body, while it may still be decompressing
    });
  });
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
