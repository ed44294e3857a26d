import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DatafileStore, notModified } from './datafile.js';
import { formatEvent, parseBatch } from './events.js';
import { chance, isSuccess, parseFaults, parseGraphqlFaults } from './faults.js';
import { answerSegmentsQuery } from './graphql.js';
import { Inspector, servePage } from './inspector.js';
import { corsHeaders, headerValue, readBody, sendJson, statusBody } from './http.js';
import type { Body } from './http.js';
import { trim, trimKeys } from './types.js';
import type { Collector, CollectorFaults, CollectorOptions, CollectorStats, GraphqlFaults, ReceivedBatch, ReceivedEvent } from './types.js';

export type { Collector, CollectorFaults, CollectorOptions, CollectorStats, GraphqlFaults, ReceivedBatch, ReceivedEvent } from './types.js';

export const DEFAULT_API_KEY = 'W4WzcEs-ABgXorzY7h1LCQ';
/** Records kept by default (`maxRecords`): what the tests and the bench need; the CLI keeps fewer. */
export const DEFAULT_MAX_RECORDS = 1_000_000;

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** The events of a body whatever its answer, for the inspector: none when it is not a valid batch. */
function eventsIn(text: string): ReceivedEvent[] {
  const batch = parseBatch(text);
  return batch.ok ? batch.events : [];
}

function emptyStats(openConnections: number): CollectorStats {
  return {
    requests: 0,
    accepted: 0,
    rejected: 0,
    events: 0,
    distinctIds: 0,
    duplicates: 0,
    bytes: 0,
    preflights: 0,
    maxOpenConnections: openConnections,
    openConnections,
    datafileRequests: 0,
    graphqlRequests: 0,
  };
}

export async function startCollector(options: CollectorOptions = {}): Promise<Collector> {
  const host = options.host ?? '127.0.0.1';
  const apiKey = options.apiKey ?? DEFAULT_API_KEY;
  const segments = { ...options.segments };
  const log = options.log ?? (() => {});
  const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
  if (!Number.isInteger(maxRecords) || maxRecords < 1) throw new Error(`maxRecords must be an integer >= 1, got ${maxRecords}`);
  let faults = parseFaults(options.faults ?? {});
  let graphqlFaults = parseGraphqlFaults(options.graphqlFaults ?? {});

  const events: ReceivedEvent[] = [];
  const batches: ReceivedBatch[] = [];
  const graphql: ReceivedBatch[] = [];
  const sockets = new Set<Socket>();
  const sleepers = new Set<{ timer: NodeJS.Timeout; done: (fired: boolean) => void }>();
  const waiters = new Set<Waiter>();
  let ids = new Set<string>();
  let counters = emptyStats(0);
  let closing: Promise<void> | undefined;
  let datafiles: DatafileStore | undefined; // created once the port (and so the url) is known
  const inspector = new Inspector(() => ({ stats: collector.stats(), faults }), maxRecords);

  /** Waits ms; resolves false instead if the collector closes first (so no timer outlives it). */
  function sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const sleeper = {
        timer: setTimeout(() => sleeper.done(true), ms),
        done: (fired: boolean) => {
          clearTimeout(sleeper.timer);
          sleepers.delete(sleeper);
          resolve(fired);
        },
      };
      sleepers.add(sleeper);
    });
  }

  function settleWaiters(): void {
    for (const waiter of waiters) {
      if (counters.events >= waiter.n) {
        clearTimeout(waiter.timer);
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Keeps one POST /v3/events in `batches` and shows it in the inspector, with the events it carried (parsed here if refused). */
  function record(req: IncomingMessage, body: Body, status: number, note?: string, events = eventsIn(body.text)): void {
    batches.push({ headers: { ...req.headers }, body: body.text, bytes: body.bytes, status });
    trim(batches, maxRecords);
    if (!isSuccess(status)) counters.rejected++;
    inspector.request({ status, note, bytes: body.bytes, encoding: headerValue(req, 'content-encoding') }, events);
  }

  function accept(received: ReceivedEvent[]): void {
    counters.accepted++;
    for (const event of received) {
      events.push(event);
      counters.events++;
      const id = event.data.idempotence_id;
      if (typeof id !== 'string') counters.distinctIds++;
      else if (!ids.has(id)) {
        ids.add(id);
        counters.distinctIds++;
      }
      log(formatEvent(event));
    }
    trim(events, maxRecords);
    trimKeys(ids, maxRecords);
    settleWaiters();
  }

  async function handleEvents(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counters.requests++;
    const f: CollectorFaults = { ...faults }; // one request sees one fault setting
    const body = await readBody(req, f.maxBodyBytes);
    if (body === undefined) return;
    counters.bytes += body.bytes;

    const refuse = (status: number, message: string): void => {
      record(req, body, status, message);
      const headers: OutgoingHttpHeaders = f.retryAfter !== undefined ? { 'retry-after': f.retryAfter } : {};
      log(`POST /v3/events -> ${status} ${message}`);
      sendJson(req, res, status, statusBody(status, message), headers);
    };

    if (f.hang) {
      record(req, body, 0, 'no answer (hang fault)');
      log('POST /v3/events -> no answer (hang fault)');
      return;
    }
    if (chance(f.resetRate)) {
      record(req, body, 0, 'connection dropped (reset fault)');
      log('POST /v3/events -> connection reset (reset fault)');
      req.socket.destroy();
      return;
    }
    if (f.latencyMs !== undefined && f.latencyMs > 0 && !(await sleep(f.latencyMs))) return;
    if (f.status !== undefined && !isSuccess(f.status)) return refuse(f.status, 'status fault');
    if (chance(f.failRate)) return refuse(f.failStatus ?? 500, 'failRate fault');
    if (f.maxBodyBytes !== undefined && body.bytes > f.maxBodyBytes) {
      return refuse(413, `body is ${body.bytes} bytes, more than maxBodyBytes ${f.maxBodyBytes}`);
    }
    if (headerValue(req, 'x-api-key') !== apiKey) return refuse(401, 'missing or wrong x-api-key');
    const mediaType = headerValue(req, 'content-type')?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') return refuse(415, 'content-type must be application/json');
    if (body.problem !== undefined) return refuse(body.problem.status, body.problem.message);
    const batch = parseBatch(body.text);
    if (!batch.ok) return refuse(400, batch.message);

    const status = f.status ?? 202;
    accept(batch.events);
    record(req, body, status, undefined, batch.events); // after accept, so the inspector's counters include these events
    sendJson(req, res, status, statusBody(status));
  }

  function handlePreflight(req: IncomingMessage, res: ServerResponse): void {
    counters.preflights++;
    const headers: OutgoingHttpHeaders = {
      ...corsHeaders(req),
      'access-control-allow-methods': 'POST, GET, OPTIONS',
      'access-control-allow-headers': headerValue(req, 'access-control-request-headers') ?? 'content-type, x-api-key',
      'access-control-max-age': '600',
      'content-length': 0,
    };
    if (headerValue(req, 'access-control-request-private-network') === 'true') {
      headers['access-control-allow-private-network'] = 'true';
    }
    res.writeHead(204, headers);
    res.end();
  }

  function handleDatafile(req: IncomingMessage, res: ServerResponse, store: DatafileStore, sdkKey: string): void {
    counters.datafileRequests++;
    const current = store.get(sdkKey);
    const headers: OutgoingHttpHeaders = {
      ...corsHeaders(req),
      etag: current.etag,
      'last-modified': new Date(current.modifiedSec * 1000).toUTCString(),
      'cache-control': 'max-age=0, must-revalidate',
    };
    if (notModified(current, headerValue(req, 'if-none-match'), headerValue(req, 'if-modified-since'))) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(current.body) });
    res.end(current.body);
  }

  async function handleGraphql(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counters.graphqlRequests++;
    const f: GraphqlFaults = { ...graphqlFaults }; // one request sees one fault setting
    const body = await readBody(req);
    if (body === undefined) return;
    const seen: ReceivedBatch = { headers: { ...req.headers }, body: body.text, bytes: body.bytes, status: 0 };
    graphql.push(seen);
    trim(graphql, maxRecords);
    if (f.hang) {
      log('POST /v3/graphql -> no answer (hang fault)');
      return;
    }
    if (f.latencyMs !== undefined && f.latencyMs > 0 && !(await sleep(f.latencyMs))) return;
    if (f.body !== undefined) {
      seen.status = f.status ?? 200;
      log(`POST /v3/graphql -> ${seen.status} (body fault)`);
      if (res.headersSent || res.destroyed) return;
      res.writeHead(seen.status, { ...corsHeaders(req), 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(f.body) });
      res.end(f.body);
      return;
    }
    if (f.status !== undefined) {
      seen.status = f.status;
      log(`POST /v3/graphql -> ${f.status} (status fault)`);
      return sendJson(req, res, f.status, statusBody(f.status, 'status fault'));
    }
    if (headerValue(req, 'x-api-key') !== apiKey) {
      seen.status = 401;
      log('POST /v3/graphql -> 401 missing or wrong x-api-key');
      return sendJson(req, res, 401, statusBody(401, 'missing or wrong x-api-key'));
    }
    const answer = answerSegmentsQuery(body.text, segments);
    seen.status = answer.status;
    if (answer.status !== 200) log(`POST /v3/graphql -> ${answer.status}`);
    sendJson(req, res, answer.status, answer.body);
  }

  async function handleSetFaults(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) return;
    try {
      const parsed: unknown = JSON.parse(body.text);
      collector.setFaults(parsed as CollectorFaults); // setFaults validates the shape
      sendJson(req, res, 200, faults);
    } catch (error) {
      sendJson(req, res, 400, statusBody(400, error instanceof Error ? error.message : String(error)));
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://collector').pathname;
    if (method === 'OPTIONS') return handlePreflight(req, res);
    if (method === 'POST' && path === '/v3/events') return handleEvents(req, res);
    if (method === 'POST' && path === '/v3/graphql') return handleGraphql(req, res);
    const datafileKey = /^\/datafiles\/([^/]+)\.json$/.exec(path)?.[1];
    if (method === 'GET' && datafileKey !== undefined && datafiles !== undefined) {
      return handleDatafile(req, res, datafiles, decodeURIComponent(datafileKey));
    }
    if (method === 'GET' && path === '/') return servePage(res);
    if (method === 'GET' && path === '/inspector/stream') return inspector.stream(res);
    if (method === 'GET' && path === '/stats') return sendJson(req, res, 200, collector.stats());
    if (method === 'GET' && path === '/events') return sendJson(req, res, 200, events);
    if (method === 'POST' && path === '/control/faults') return handleSetFaults(req, res);
    if (method === 'POST' && path === '/control/reset') {
      collector.reset();
      return sendJson(req, res, 200, { reset: true });
    }
    log(`${method} ${path} -> 404`);
    sendJson(req, res, 404, statusBody(404, `no route for ${method} ${path}`));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`${req.method} ${req.url} -> 500 ${error instanceof Error ? error.message : String(error)}`);
      sendJson(req, res, 500, statusBody(500, 'collector error'));
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    counters.openConnections = sockets.size;
    counters.maxOpenConnections = Math.max(counters.maxOpenConnections, sockets.size);
    socket.on('close', () => {
      sockets.delete(socket);
      counters.openConnections = sockets.size;
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port; // a TCP server's address() is an AddressInfo once listening
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const store = new DatafileStore(url, apiKey);
  datafiles = store;

  const collector: Collector = {
    url,
    port,
    events,
    batches,
    graphql,
    stats: () => ({ ...counters, duplicates: counters.events - counters.distinctIds, openConnections: sockets.size }),
    setFaults: (next) => {
      faults = parseFaults(next);
      inspector.faults(faults);
    },
    setGraphqlFaults: (next) => {
      graphqlFaults = parseGraphqlFaults(next);
    },
    setSegments: (userId, names) => {
      if (names === null) delete segments[userId];
      else segments[userId] = [...names];
    },
    setDatafile: (sdkKey, datafile) => store.set(sdkKey, datafile),
    reset: () => {
      events.length = 0;
      batches.length = 0;
      graphql.length = 0;
      ids = new Set();
      counters = emptyStats(sockets.size);
      inspector.reset();
    },
    waitForEvents: (n, timeoutMs = 5000) =>
      new Promise<void>((resolve, reject) => {
        if (counters.events >= n) return resolve();
        if (closing !== undefined) return reject(new Error(`waitForEvents(${n}): the collector is closed`));
        const waiter: Waiter = {
          n,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            const s = collector.stats();
            reject(
              new Error(
                `waitForEvents(${n}): only ${counters.events} event(s) arrived within ${timeoutMs} ms ` +
                  `(${s.requests} request(s), ${s.accepted} accepted)`,
              ),
            );
          }, timeoutMs),
        };
        waiters.add(waiter);
      }),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const sleeper of sleepers) sleeper.done(false);
        for (const waiter of waiters) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`waitForEvents(${waiter.n}): the collector closed with ${counters.events} event(s)`));
        }
        waiters.clear();
        inspector.close();
        // Resolve once the server AND every socket have emitted 'close', so stats() shows 0 open connections.
        const closed = [new Promise<void>((done) => server.close(() => done()))];
        for (const socket of sockets) {
          closed.push(new Promise<void>((done) => socket.once('close', () => done())));
          socket.destroy();
        }
        Promise.all(closed).then(() => resolve());
      });
      return closing;
    },
  };
  return collector;
}
