import { isRecord } from './types.js';
import type { ReceivedEvent } from './types.js';

export type BatchResult = { ok: true; events: ReceivedEvent[] } | { ok: false; message: string };

/** Checks one event's shape; returns an error message or undefined. */
function checkEvent(value: unknown): string | undefined {
  if (!isRecord(value)) return 'is not an object';
  if (typeof value.type !== 'string') return '"type" must be a string';
  if (typeof value.action !== 'string') return '"action" must be a string';
  if (!isRecord(value.identifiers)) return '"identifiers" must be an object';
  for (const [key, id] of Object.entries(value.identifiers)) {
    if (typeof id !== 'string') return `identifier "${key}" must be a string`;
  }
  if (!isRecord(value.data)) return '"data" must be an object';
  return undefined;
}

/** Parses a POST /v3/events body: a JSON array of {type, action, identifiers, data} objects. */
export function parseBatch(text: string): BatchResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, message: 'body is not valid JSON' };
  }
  if (!Array.isArray(parsed)) return { ok: false, message: 'body must be a JSON array of events' };
  const events: ReceivedEvent[] = [];
  for (const [index, item] of parsed.entries()) {
    const problem = checkEvent(item);
    if (problem !== undefined) return { ok: false, message: `event ${index}: ${problem}` };
    const event = item as ReceivedEvent; // shape checked by checkEvent above
    events.push({ type: event.type, action: event.action, identifiers: event.identifiers, data: event.data });
  }
  return { ok: true, events };
}

/** Data keys every SDK event carries; left out of log lines and the inspector's data column to keep them readable. */
const DEFAULT_DATA_KEYS = new Set(['idempotence_id', 'data_source_type', 'data_source', 'data_source_version']);

/** The event's data without the keys every SDK event carries: what the app itself sent. */
export function userData(event: ReceivedEvent): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event.data).filter(([key]) => !DEFAULT_DATA_KEYS.has(key)));
}

/** One readable line, e.g. `event fullstack/purchased  fs_user_id=user123  {item: "shirt", price: 50}`. */
export function formatEvent(event: ReceivedEvent): string {
  const ids = Object.entries(event.identifiers)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  const data = Object.entries(userData(event))
    .map(([key, value]) => `${key}: ${JSON.stringify(value) ?? String(value)}`)
    .join(', ');
  return `event ${event.type}/${event.action}  ${ids}  {${data}}`;
}
