import { createHash } from 'node:crypto';

/** A minimal version-4 datafile: one typed audience over two ODP segments (has_email, cart_abandoner). */
export function defaultDatafile(host: string, publicKey: string, sdkKey: string): object {
  const segment = (value: string) => ({ type: 'third_party_dimension', name: 'odp.audiences', match: 'qualified', value });
  return {
    version: '4',
    revision: '1',
    accountId: '10000000001',
    projectId: '20000000002',
    environmentKey: 'production',
    sdkKey,
    anonymizeIP: true,
    botFiltering: false,
    attributes: [{ id: '30000000003', key: 'age' }],
    events: [],
    experiments: [],
    groups: [],
    variables: [],
    audiences: [
      {
        id: '40000000001',
        name: 'engaged-shoppers',
        conditions:
          '["or", {"match": "exact", "name": "$opt_dummy_attribute", "type": "custom_attribute", "value": "$opt_dummy_value"}]',
      },
    ],
    typedAudiences: [
      {
        id: '40000000001',
        name: 'engaged-shoppers',
        conditions: [
          'and',
          ['or', segment('has_email'), segment('cart_abandoner')],
          ['or', { type: 'custom_attribute', name: 'age', match: 'gt', value: 17 }],
        ],
      },
    ],
    featureFlags: [],
    rollouts: [],
    integrations: [{ key: 'odp', host, publicKey }],
  };
}

export interface DatafileEntry {
  body: string;
  etag: string;
  /** Whole seconds since the epoch (HTTP dates have second precision). */
  modifiedSec: number;
}

function entry(body: string, modifiedSec: number): DatafileEntry {
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  return { body, etag, modifiedSec };
}

/** What GET /datafiles/{sdkKey}.json serves: the default datafile, or an override per key. */
export class DatafileStore {
  private readonly overrides = new Map<string, DatafileEntry>();
  private readonly startedSec = Math.floor(Date.now() / 1000);

  constructor(
    private readonly host: string,
    private readonly publicKey: string,
  ) {}

  get(sdkKey: string): DatafileEntry {
    return this.overrides.get(sdkKey) ?? entry(JSON.stringify(defaultDatafile(this.host, this.publicKey, sdkKey)), this.startedSec);
  }

  set(sdkKey: string, datafile: object | string): void {
    const body = typeof datafile === 'string' ? datafile : JSON.stringify(datafile);
    const previous = this.overrides.get(sdkKey)?.modifiedSec ?? this.startedSec;
    // Move Last-Modified forward by at least a second, so an If-Modified-Since from the old version never matches the new one.
    this.overrides.set(sdkKey, entry(body, Math.max(Math.floor(Date.now() / 1000), previous + 1)));
  }
}

/** True when the client's validators show it already holds `current` (If-None-Match wins over If-Modified-Since). */
export function notModified(current: DatafileEntry, ifNoneMatch: string | undefined, ifModifiedSince: string | undefined): boolean {
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch.split(',').some((tag) => {
      const value = tag.trim().replace(/^W\//, '');
      return value === '*' || value === current.etag;
    });
  }
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    return !Number.isNaN(since) && current.modifiedSec * 1000 <= since;
  }
  return false;
}
