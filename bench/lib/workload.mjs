// The one workload every contender sends: event i has the same identifiers and data everywhere.
import { randomUUID } from 'node:crypto';

export const ACTION = 'purchased';
export const TYPE = 'fullstack';
export const API_KEY = 'W4WzcEs-ABgXorzY7h1LCQ'; // the collector's default key

/** Identifiers of event i, as a plain object. */
export function identifiersOf(i) {
  return { fs_user_id: `user-${i}`, email: `user-${i}@example.com` };
}

/** Data of event i, as a plain object. */
export function dataOf(i) {
  return { item: ITEMS[i % ITEMS.length], price: 5 + (i % 95) };
}

const ITEMS = ['shirt', 'shoes', 'hat', 'socks', 'scarf'];

/** Event i on the wire, as the floor sends it: already in wire format, with its own idempotence id. */
export function wireEventOf(i) {
  const data = dataOf(i);
  return {
    type: TYPE,
    action: ACTION,
    identifiers: identifiersOf(i),
    data: { idempotence_id: randomUUID(), data_source_type: 'sdk', data_source: 'floor', data_source_version: '0', item: data.item, price: data.price },
  };
}

/** A datafile whose ODP integration points at `host`. */
export function datafileFor(host) {
  return {
    version: '4',
    revision: '1',
    accountId: '10000000001',
    projectId: '20000000002',
    environmentKey: 'production',
    sdkKey: 'BenchSdkKey',
    anonymizeIP: true,
    botFiltering: false,
    attributes: [],
    events: [],
    experiments: [],
    groups: [],
    variables: [],
    audiences: [],
    typedAudiences: [],
    featureFlags: [],
    rollouts: [],
    integrations: [{ key: 'odp', host, publicKey: API_KEY }],
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function wallNow() {
  return performance.timeOrigin + performance.now();
}
