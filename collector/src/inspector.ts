// The live inspector: a page at `/` that shows every POST /v3/events as it arrives, fed by a
// server-sent event stream at `/inspector/stream`, with the fault modes one click away.
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { userData } from './events.js';
import { trimKeys, type CollectorFaults, type CollectorStats, type ReceivedEvent } from './types.js';

/** Requests replayed to a page when it connects (or reconnects), so it shows what just happened. */
const RECENT_REQUESTS = 200;
/** A page that lets more than this pile up unread is cut off; its EventSource reconnects and starts afresh. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** One event of a request, as the page shows it. */
export interface InspectedEvent {
  type: string;
  action: string;
  identifiers: Record<string, string>;
  /** The data the app sent: the SDK's own keys (idempotence_id, data_source*) left out. */
  data: Record<string, unknown>;
  /** `data.idempotence_id`, or null when the event has none. */
  id: string | null;
  /** How many times this id has arrived so far, this time included: 2 and more are retries. */
  attempt: number;
}

/** One POST /v3/events, as the page shows it. */
export interface InspectedRequest {
  time: string;
  /** Status answered; 0 when no answer was given (hang or dropped connection). */
  status: number;
  /** Why the request was refused or not answered; absent for an accepted one. */
  note?: string;
  /** Body size on the wire. */
  bytes: number;
  /** The Content-Encoding header, e.g. 'gzip'; absent when the body came as is. */
  encoding?: string;
  /** The events in the body, whatever the answer ([] when the body is not a batch). */
  events: InspectedEvent[];
}

/** What a page needs besides the requests: the counters and the current faults. */
export interface InspectorState {
  stats: CollectorStats;
  faults: CollectorFaults;
}

/** A request as kept: the page's view of it is built only when a page is watching. */
interface Kept {
  request: Omit<InspectedRequest, 'events'>;
  events: ReceivedEvent[];
  attempts: number[];
}

function view({ request, events, attempts }: Kept): InspectedRequest {
  return {
    ...request,
    events: events.map((event, i) => ({
      type: event.type,
      action: event.action,
      identifiers: event.identifiers,
      data: userData(event),
      id: idOf(event),
      attempt: attempts[i] ?? 1,
    })),
  };
}

function idOf(event: ReceivedEvent): string | null {
  return typeof event.data.idempotence_id === 'string' ? event.data.idempotence_id : null;
}

export class Inspector {
  private readonly streams = new Set<ServerResponse>();
  private readonly recent: Kept[] = [];
  /** How often each idempotence_id has arrived, in any request and whatever the answer. */
  private sightings = new Map<string, number>();

  /** `maxIds`: how many ids `sightings` remembers (the oldest go first). */
  constructor(
    private readonly state: () => InspectorState,
    private readonly maxIds: number,
  ) {}

  /** Records one POST /v3/events once its answer is decided, and sends it to every open page. */
  request(request: Omit<InspectedRequest, 'time' | 'events'>, events: ReceivedEvent[]): void {
    const attempts = events.map((event) => {
      const id = idOf(event);
      if (id === null) return 1;
      const attempt = (this.sightings.get(id) ?? 0) + 1;
      // Re-inserted, so that the ids seen last are the ones kept.
      this.sightings.delete(id);
      this.sightings.set(id, attempt);
      return attempt;
    });
    trimKeys(this.sightings, this.maxIds);
    const kept: Kept = { request: { time: new Date().toISOString(), ...request }, events, attempts };
    this.recent.push(kept);
    if (this.recent.length > RECENT_REQUESTS) this.recent.shift();
    if (this.streams.size > 0) this.send('request', { request: view(kept), stats: this.state().stats });
  }

  faults(faults: CollectorFaults): void {
    this.send('faults', faults);
  }

  /** Forgets the requests and the ids seen (the collector was reset), and tells the pages. */
  reset(): void {
    this.recent.length = 0;
    this.sightings = new Map();
    this.send('reset', this.state());
  }

  /** GET /inspector/stream: the recent requests and the state first, then every change as it happens. */
  stream(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
    // Reconnect within a second when the collector restarts (the browser's default is slower).
    res.write(`retry: 1000\n\n${frame('hello', { ...this.state(), requests: this.recent.map(view) })}`);
  }

  /** Ends every open stream, so no page keeps the collector's close() waiting. */
  close(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  private send(name: string, data: unknown): void {
    if (this.streams.size === 0) return;
    const text = frame(name, data);
    for (const res of this.streams) {
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
      else res.write(text);
    }
  }
}

function frame(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** GET /: the page. Its script and style are allowed by hash alone, so nothing an app sends can run in it. */
export function servePage(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(PAGE),
    'cache-control': 'no-store',
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
  });
  res.end(PAGE);
}

const STYLE = `
:root { font: 14px/1.4 system-ui, sans-serif; color: #1b1b1b; background: #fafafa; }
body { margin: 0 1.5rem 2rem; }
h1 { font-size: 1.3rem; margin: 1rem 0 0.25rem; }
h2 { font-size: 1rem; margin: 1rem 0 0.5rem; }
:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }
.counters { display: flex; flex-wrap: wrap; gap: 0.75rem; margin: 0; }
.counters div { background: #fff; border: 1px solid #ccc; border-radius: 6px; padding: 0.4rem 0.8rem; min-width: 8rem; }
.counters dt { font-size: 0.8rem; color: #555; }
.counters dd { margin: 0; font-size: 1.4rem; font-variant-numeric: tabular-nums; }
fieldset { border: 1px solid #ccc; border-radius: 6px; display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; align-items: center; }
input[type=number] { width: 5rem; }
.tools { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: center; margin: 1rem 0 0.5rem; }
#filter { width: 22rem; max-width: 100%; }
table { border-collapse: collapse; width: 100%; background: #fff; }
caption { text-align: left; color: #555; padding: 0.3rem 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eee; position: sticky; top: 0; }
tr.first td { border-top: 2px solid #bbb; }
td.mono { font-family: ui-monospace, monospace; font-size: 0.85rem; overflow-wrap: anywhere; }
tr.ok td.status { color: #1d6b2f; font-weight: 600; }
tr.bad td.status { color: #a51d2d; font-weight: 600; }
td.retry { background: #fff0c2; font-weight: 600; }
#connection.live { color: #1d6b2f; }
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const rows = $('rows');
const filter = $('filter');
const form = $('faults');
const MAX_ROWS = 2000;

function cell(content, className) {
  const td = document.createElement('td');
  td.textContent = content;
  if (className) td.className = className;
  return td;
}
function clock(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}
function pairs(record) {
  return Object.entries(record).map(([key, value]) => key + '=' + (typeof value === 'string' ? value : JSON.stringify(value))).join('  ');
}
function shown(row) {
  const query = filter.value.trim().toLowerCase();
  return query === '' || row.textContent.toLowerCase().includes(query);
}
function countShown() {
  const all = Array.from(rows.rows).filter((row) => row.dataset.event === 'yes');
  const visible = all.filter((row) => !row.hidden).length;
  $('shown').textContent = filter.value.trim() === '' ? '' : visible + ' of ' + all.length + ' event rows shown.';
}

function addRequest(request) {
  const ok = request.status >= 200 && request.status < 300;
  const answer = request.status === 0 ? request.note ?? 'no answer' : request.status + (request.note ? ': ' + request.note : '');
  const n = request.events.length;
  const size = n + (n === 1 ? ' event, ' : ' events, ') + request.bytes + ' B' + (request.encoding ? ' ' + request.encoding : '');
  const fragment = document.createDocumentFragment();
  (n > 0 ? request.events : [null]).forEach((event, i) => {
    const row = document.createElement('tr');
    row.className = (i === 0 ? 'first ' : '') + (ok ? 'ok' : 'bad');
    row.append(cell(clock(request.time)), cell(answer, 'status'), cell(size));
    if (event) {
      const retry = event.attempt > 1;
      row.dataset.event = 'yes';
      row.append(
        cell(event.type), cell(event.action), cell(pairs(event.identifiers), 'mono'), cell(pairs(event.data), 'mono'),
        cell(event.id ?? 'none', 'mono'), cell(retry ? 'retry \\u00d7' + (event.attempt - 1) : 'first', retry ? 'retry' : ''),
      );
    } else {
      const none = cell('no events in this body');
      none.colSpan = 6;
      row.append(none);
    }
    row.hidden = !shown(row);
    fragment.append(row);
  });
  rows.prepend(fragment);
  while (rows.rows.length > MAX_ROWS) rows.lastElementChild.remove();
}

function showStats(stats) {
  $('accepted').textContent = stats.events;
  $('rejected').textContent = stats.rejected;
  $('duplicates').textContent = stats.duplicates;
  $('bytes').textContent = stats.bytes;
  $('requests').textContent = stats.requests;
}

function showFaults(faults) {
  const keys = Object.keys(faults);
  const mode = faults.resetRate === 1 ? 'drop' : [500, 429, 413].includes(faults.status) ? String(faults.status) : keys.every((key) => key === 'latencyMs') ? 'none' : '';
  for (const radio of form.elements.mode) radio.checked = radio.value === mode;
  if (faults.retryAfter !== undefined) $('retry-after').value = faults.retryAfter;
  $('slow').checked = (faults.latencyMs ?? 0) > 0;
  if (faults.latencyMs) $('latency').value = faults.latencyMs;
  $('fault-state').textContent = keys.length === 0 ? 'No faults: valid batches are answered 202.' : 'Faults on: ' + JSON.stringify(faults);
}

function chosenFaults() {
  const faults = {};
  const mode = form.elements.mode.value;
  if (mode === '500' || mode === '413') faults.status = Number(mode);
  if (mode === '429') Object.assign(faults, { status: 429, retryAfter: String($('retry-after').value || '1') });
  if (mode === 'drop') faults.resetRate = 1;
  if ($('slow').checked) faults.latencyMs = Number($('latency').value) || 0;
  return faults;
}

form.addEventListener('submit', (event) => event.preventDefault());
form.addEventListener('change', async () => {
  try {
    const response = await fetch('/control/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chosenFaults()) });
    const body = await response.json();
    if (response.ok) showFaults(body);
    else $('fault-state').textContent = 'Faults not changed: ' + body.message;
  } catch (error) {
    $('fault-state').textContent = 'Faults not changed: ' + error.message;
  }
});
filter.addEventListener('input', () => {
  for (const row of rows.rows) row.hidden = !shown(row);
  countShown();
});
$('clear').addEventListener('click', () => fetch('/control/reset', { method: 'POST' }));

const stream = new EventSource('/inspector/stream');
const connection = $('connection');
stream.onopen = () => {
  connection.textContent = 'Live: requests appear as they arrive.';
  connection.className = 'live';
};
stream.onerror = () => {
  connection.textContent = stream.readyState === EventSource.CLOSED ? 'Disconnected.' : 'Reconnecting to the collector\\u2026';
  connection.className = '';
};
stream.addEventListener('hello', (message) => {
  const state = JSON.parse(message.data);
  rows.replaceChildren();
  state.requests.forEach(addRequest);
  showStats(state.stats);
  showFaults(state.faults);
  countShown();
});
stream.addEventListener('request', (message) => {
  const { request, stats } = JSON.parse(message.data);
  addRequest(request);
  showStats(stats);
});
stream.addEventListener('faults', (message) => showFaults(JSON.parse(message.data)));
stream.addEventListener('reset', (message) => {
  rows.replaceChildren();
  showStats(JSON.parse(message.data).stats);
  countShown();
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ODP collector inspector</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>ODP collector inspector</h1>
<p id="connection" role="status">Connecting&hellip;</p>
</header>
<main>
<section aria-labelledby="counters-title">
<h2 id="counters-title">Counters</h2>
<dl class="counters">
<div><dt>Accepted events</dt><dd id="accepted">0</dd></div>
<div><dt>Rejected requests</dt><dd id="rejected">0</dd></div>
<div><dt>Duplicates by id</dt><dd id="duplicates">0</dd></div>
<div><dt>Bytes received</dt><dd id="bytes">0</dd></div>
<div><dt>Requests</dt><dd id="requests">0</dd></div>
</dl>
</section>
<section aria-labelledby="faults-title">
<h2 id="faults-title">Faults</h2>
<form id="faults">
<fieldset>
<legend>Answer POST /v3/events with</legend>
<label><input type="radio" name="mode" value="none" checked> 202 (no fault)</label>
<label><input type="radio" name="mode" value="500"> 500</label>
<label><input type="radio" name="mode" value="429"> 429 with Retry-After</label>
<label>Retry-After (seconds) <input id="retry-after" type="number" min="0" step="1" value="2"></label>
<label><input type="radio" name="mode" value="413"> 413</label>
<label><input type="radio" name="mode" value="drop"> no answer: drop the connection</label>
</fieldset>
<fieldset>
<legend>Speed</legend>
<label><input id="slow" type="checkbox"> Slow: wait before answering</label>
<label>Wait (ms) <input id="latency" type="number" min="0" step="100" value="2000"></label>
</fieldset>
</form>
<p id="fault-state" role="status"></p>
</section>
<section aria-labelledby="requests-title">
<h2 id="requests-title">Requests</h2>
<div class="tools">
<label for="filter">Filter events</label>
<input id="filter" type="search" placeholder="action, identifier, id, status&hellip;" autocomplete="off">
<button id="clear" type="button">Clear (reset the collector)</button>
<p id="shown" role="status"></p>
</div>
<table>
<caption>POST /v3/events requests, newest first; one row per event</caption>
<thead>
<tr><th scope="col">Time</th><th scope="col">Answer</th><th scope="col">Batch</th><th scope="col">Type</th><th scope="col">Action</th><th scope="col">Identifiers</th><th scope="col">Data</th><th scope="col">idempotence_id</th><th scope="col">Attempt</th></tr>
</thead>
<tbody id="rows"></tbody>
</table>
</section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const CSP = [
  "default-src 'none'",
  "connect-src 'self'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
