import { isRecord } from '../core/values';
import { TransportError, type Transport } from '../transport/transport';
import type { OdpSettings } from '../types';

/** Which identifier a user is looked up by in ODP. */
export type SegmentsUserKey = 'fs_user_id' | 'vuid';

/**
 * One fixed query per identifier kind: the user id and the segment names travel as GraphQL
 * variables, so nothing a user supplies is ever spliced into the query text.
 */
const QUERIES: Record<SegmentsUserKey, string> = {
  fs_user_id:
    'query($userId: String, $audiences: [String]) {customer(fs_user_id: $userId) {audiences(subset: $audiences) {edges {node {name state}}}}}',
  vuid: 'query($userId: String, $audiences: [String]) {customer(vuid: $userId) {audiences(subset: $audiences) {edges {node {name state}}}}}',
};

const QUALIFIED = 'qualified';
/** GraphQL error messages can be long (stack-like); the log gets this much of one. */
const MAX_MESSAGE_CHARS = 200;

export interface SegmentsRequest {
  odp: OdpSettings;
  userKey: SegmentsUserKey;
  userValue: string;
  /** Segment names to ask about; never empty (an empty list needs no request). */
  segments: string[];
  timeoutMs: number;
}

/** The qualified segment names, or why there are none. */
export type SegmentsResult = { ok: true; segments: string[] } | { ok: false; reason: string };

/** Asks ODP's GraphQL API which of `segments` the user qualifies for. Never rejects. */
export async function fetchSegments(transport: Transport, request: SegmentsRequest): Promise<SegmentsResult> {
  const body = JSON.stringify({
    query: QUERIES[request.userKey],
    variables: { userId: request.userValue, audiences: request.segments },
  });
  let status: number;
  let text: string;
  try {
    const response = await transport.request({
      method: 'POST',
      url: `${request.odp.host}/v3/graphql`,
      headers: { 'content-type': 'application/json', 'x-api-key': request.odp.publicKey },
      body,
      timeoutMs: request.timeoutMs,
    });
    status = response.status;
    text = response.body;
  } catch (error) {
    if (error instanceof TransportError && error.kind === 'timeout') return fail(`timeout: ${error.message}`);
    return fail(`network error: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (status < 200 || status >= 300) return fail(`HTTP ${status}`);
  return parseAnswer(text);
}

/** Reads a GraphQL answer: `errors` wins over `data`; qualified means `state == "qualified"`. */
export function parseAnswer(text: string): SegmentsResult {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return fail('the answer is not valid JSON');
  }
  if (!isRecord(answer)) return fail('the answer is not a JSON object');
  const errors = answer.errors;
  if (Array.isArray(errors) && errors.length > 0) return fail(describeError(errors[0]));
  const edges = field(field(field(answer.data, 'customer'), 'audiences'), 'edges');
  if (!Array.isArray(edges)) return fail('the answer has no data.customer.audiences.edges');
  const qualified: string[] = [];
  for (const edge of edges) {
    const node = field(edge, 'node');
    const name = field(node, 'name');
    const state = field(node, 'state');
    if (typeof name !== 'string' || typeof state !== 'string') return fail('an audience edge lacks node.name or node.state');
    if (state === QUALIFIED && !qualified.includes(name)) qualified.push(name);
  }
  return { ok: true, segments: qualified };
}

function describeError(error: unknown): string {
  const extensions = field(error, 'extensions');
  const code = field(extensions, 'code');
  const classification = field(extensions, 'classification');
  if (code === 'INVALID_IDENTIFIER_EXCEPTION' || classification === 'InvalidIdentifierException') {
    return 'invalid identifier (ODP does not know this user)';
  }
  const message = field(error, 'message');
  const detail = typeof message === 'string' ? message.slice(0, MAX_MESSAGE_CHARS) : 'no message';
  return `GraphQL error${typeof classification === 'string' ? ` (${classification})` : ''}: ${detail}`;
}

function fail(reason: string): SegmentsResult {
  return { ok: false, reason };
}

function field(value: unknown, name: string): unknown {
  return isRecord(value) ? value[name] : undefined;
}
