import type { OdpSettings } from '../types';
import { isRecord } from '../core/values';

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
 * Reads a datafile given as JSON text or an object. Returns why (a string; never throws) when it
 * is not a datafile at all; a datafile without a usable ODP integration is still valid.
 */
export function parseDatafile(input: unknown, allowInsecureHost: boolean): ParsedDatafile | string {
  try {
    const json: unknown = typeof input === 'string' ? JSON.parse(input) : input;
    if (!isRecord(json)) return 'not a JSON object';
    const integrations = json.integrations;
    if (integrations !== undefined && !Array.isArray(integrations)) return '"integrations" is not an array';
    const odp = readOdp(integrations?.find((item: unknown) => (item as { key?: unknown } | null)?.key === 'odp'), allowInsecureHost);
    const problem = typeof odp === 'string';
    return {
      revision: typeof json.revision === 'string' ? json.revision : null,
      odp: problem ? null : odp,
      odpProblem: problem ? odp : null,
      json,
    };
  } catch (error) {
    // Parsed JSON text has no getters, so text can only fail to parse; an object from the host can
    // throw when read (a getter, a proxy): a bad datafile, not a crash.
    return typeof input === 'string' ? `not valid JSON (${(error as Error).message})` : 'a property threw';
  }
}

/**
 * The usable ODP settings of the datafile's `odp` integration, or why there are none. ODP hosts
 * must be https; plain http only on loopback, or when the user opted in.
 */
function readOdp(entry: unknown, allowInsecureHost: boolean): OdpSettings | string {
  const { host, publicKey } = (entry ?? {}) as { host?: unknown; publicKey?: unknown };
  if (typeof host !== 'string' || !host || typeof publicKey !== 'string' || !publicKey) return 'no ODP integration with host and publicKey';
  try {
    const url = new URL(host);
    if (url.protocol === 'https:' || (url.protocol === 'http:' && (allowInsecureHost || LOOPBACK.test(url.hostname)))) {
      return { host: host.replace(/\/+$/, ''), publicKey };
    }
  } catch {
    // Not a URL at all: refused below, like any host that is not https.
  }
  return `ODP host ${JSON.stringify(host)} is not an https URL (http needs odp.allowInsecureHost)`;
}
