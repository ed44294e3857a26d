import type { OdpSettings } from '../types';

/** What the SDK takes from a datafile. */
export interface ParsedDatafile {
  revision: string | null;
  /** Usable ODP settings, or null when ODP is not integrated. */
  odp: OdpSettings | null;
  /** Why `odp` is null, for the log; null when it is set. */
  odpProblem: string | null;
  /** The datafile object itself, for features that read more of it (segments). */
  json: Record<string, unknown>;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Reads a datafile given as JSON text or an object. Returns an Error (never throws) when it
 * is not a datafile at all; a datafile without a usable ODP integration is still valid.
 */
export function parseDatafile(input: unknown, allowInsecureHost: boolean): ParsedDatafile | Error {
  try {
    return readDatafile(input, allowInsecureHost);
  } catch {
    // A datafile object from the host can throw when read (a getter, a proxy): a bad datafile, not a crash.
    return new Error('the datafile could not be read (a property threw)');
  }
}

function readDatafile(input: unknown, allowInsecureHost: boolean): ParsedDatafile | Error {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (error) {
      return new Error(`the datafile is not valid JSON (${(error as Error).message})`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return new Error('the datafile must be a JSON object');
  }
  const datafile = json as Record<string, unknown>;
  const integrations = datafile.integrations;
  if (integrations !== undefined && !Array.isArray(integrations)) {
    return new Error('the datafile\'s "integrations" must be an array');
  }
  const revision = typeof datafile.revision === 'string' ? datafile.revision : null;
  const entry: unknown = (integrations ?? []).find(
    (item: unknown) => typeof item === 'object' && item !== null && (item as { key?: unknown }).key === 'odp',
  );
  if (!entry) return { revision, odp: null, odpProblem: 'the datafile has no ODP integration', json: datafile };
  const { host, publicKey } = entry as { host?: unknown; publicKey?: unknown };
  if (typeof host !== 'string' || host === '' || typeof publicKey !== 'string' || publicKey === '') {
    return { revision, odp: null, odpProblem: 'the datafile\'s ODP integration lacks a host or public key', json: datafile };
  }
  const problem = checkHost(host, allowInsecureHost);
  if (problem) return { revision, odp: null, odpProblem: problem, json: datafile };
  return { revision, odp: { host: host.replace(/\/+$/, ''), publicKey }, odpProblem: null, json: datafile };
}

/** ODP hosts must be https; plain http only on loopback, or when the user opted in. */
function checkHost(host: string, allowInsecureHost: boolean): string | null {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return `the datafile's ODP host ${JSON.stringify(host)} is not a URL`;
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && (allowInsecureHost || LOOPBACK.test(url.hostname))) return null;
  return `the datafile's ODP host ${JSON.stringify(host)} must use https: (http only on loopback or with odp.allowInsecureHost)`;
}
