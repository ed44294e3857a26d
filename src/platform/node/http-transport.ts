import { timerDelay } from '../../core/values';
import http from 'node:http';
import https from 'node:https';
import { constants, gzipSync } from 'node:zlib';
import { TransportError, type HttpRequest, type HttpResponse, type Transport } from '../../transport/transport';

/**
 * A transport over `node:http(s)` with keep-alive agents: measured several times cheaper in CPU
 * per request than Node's global fetch, which matters for a batching SDK.
 */
export function createHttpTransport(options: { maxSockets: number }): Transport {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const active = new Set<http.ClientRequest>();
  let lastUrl = '';
  let lastTarget: Target | undefined;

  function parse(url: string): Target {
    // Events go to one host over and over: parse its URL, and what a request needs of it, once.
    if (url !== lastUrl || !lastTarget) {
      const parsed = new URL(url);
      lastTarget = {
        secure: parsed.protocol === 'https:',
        hostname: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: parsed.port || undefined,
        path: parsed.pathname + parsed.search,
        host: parsed.host,
      };
      lastUrl = url;
    }
    return lastTarget;
  }

  return {
    request(request: HttpRequest): Promise<HttpResponse> {
      let url: Target;
      try {
        url = parse(request.url);
      } catch {
        return Promise.reject(new TransportError('network', 'invalid URL'));
      }
      // Headers as a flat array: Node then writes them as given, without a setHeader (and its
      // checks and lookups) per header; it also adds no Host header of its own, so it is given here.
      const headers = ['host', url.host];
      for (const name in request.headers) headers.push(name, request.headers[name]!);
      // Encoded once, here: the length is the buffer's, and what Node still has to write is bytes
      // outside the JS heap rather than a string that outlives young-generation collections.
      let body: Buffer | undefined;
      if (request.body !== undefined && request.compression === 'gzip') {
        body = gzipSync(request.body, GZIP_OPTIONS);
        headers.push('content-encoding', 'gzip');
      } else if (request.body !== undefined) {
        body = Buffer.from(request.body);
      }
      if (body !== undefined) headers.push('content-length', String(body.length));
      const req = (url.secure ? https : http).request({
        agent: url.secure ? httpsAgent : httpAgent,
        method: request.method,
        hostname: url.hostname,
        port: url.port,
        path: url.path,
        headers,
      });
      active.add(req);
      req.end(body);
      // answer() is a function of its own: its closures, which live until the answer, must not see
      // the request and its body (up to hundreds of KB for a merged request). Measured: holding them
      // raised the peak memory of a 100,000-event burst by a quarter.
      return answer(req, request.timeoutMs, () => active.delete(req));
    },
    close() {
      for (const req of active) req.destroy(new TransportError('aborted', 'the client was closed'));
      active.clear();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** The answer to a request that was sent: its status, headers and body, or a TransportError. */
function answer(req: http.ClientRequest, timeoutMs: number, done: () => void): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    let failure: TransportError | undefined;
    const timer = setTimeout(() => {
      failure = new TransportError('timeout', `no answer within ${timeoutMs} ms`);
      req.destroy(failure);
    }, timerDelay(timeoutMs));
    timer.unref();
    const finish = () => {
      clearTimeout(timer);
      done();
    };
    req.on('response', (res) => {
      // Buffers decoded once at the end: no StringDecoder per response (answers are one small chunk).
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
      });
      res.on('end', () => {
        finish();
        const status = res.statusCode ?? 0;
        const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
        resolve({ status, header: (name) => headerValue(res.headers[name]), body });
      });
      // A connection cut mid-answer must settle the request too, whichever event Node emits.
      const cut = () => {
        finish();
        reject(failure ?? new TransportError('network', 'the connection closed mid-answer'));
      };
      res.on('error', cut);
      res.on('close', () => {
        if (!res.complete) cut();
      });
    });
    req.on('error', (error: Error & { code?: string }) => {
      finish();
      if (error instanceof TransportError) reject(error);
      else reject(failure ?? new TransportError('network', error.code ?? error.message));
    });
  });
}

/**
 * Measured (bench/gzip-cost.mjs) on batches of 10 and 100 events: the synchronous call costs about
 * half the CPU of zlib.gzip on the thread pool (whose hand-off dominates bodies this small) and blocks
 * for ~50 µs (batch 10) to ~200 µs (batch 100); level 1 gives bodies ~5 % larger than level 6 for up
 * to half the CPU. Not cached across retries: the dispatcher keeps the body string and zlib's output
 * for it is the same bytes each time, while a cache would hold buffers for batches waiting out a backoff.
 */
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED };

/** What a request needs of its URL. */
interface Target {
  secure: boolean;
  /** Without the brackets of an IPv6 literal. */
  hostname: string;
  port: string | undefined;
  path: string;
  /** The Host header: the host name and the port, if any. */
  host: string;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
