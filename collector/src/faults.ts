import { isRecord } from './types.js';
import type { CollectorFaults, GraphqlFaults } from './types.js';

function checkNumber(key: string, value: unknown, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(`fault ${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

/** Validates a fault setting (from code or a JSON control request) and returns a clean copy. Unknown keys are errors, so a typo is not silently ignored. */
export function parseFaults(input: unknown): CollectorFaults {
  if (!isRecord(input)) throw new Error('faults must be a JSON object');
  const faults: CollectorFaults = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    switch (key) {
      case 'failRate':
      case 'resetRate':
        faults[key] = checkNumber(key, value, 0, 1, false);
        break;
      case 'failStatus':
      case 'status':
        faults[key] = checkNumber(key, value, 200, 599, true);
        break;
      case 'latencyMs':
      case 'maxBodyBytes':
        faults[key] = checkNumber(key, value, 0, Number.MAX_SAFE_INTEGER, false);
        break;
      case 'retryAfter':
        if (typeof value !== 'string') throw new Error('fault retryAfter must be a string (seconds or an HTTP date)');
        faults.retryAfter = value;
        break;
      case 'hang':
        if (typeof value !== 'boolean') throw new Error('fault hang must be a boolean');
        faults.hang = value;
        break;
      default:
        throw new Error(`unknown fault "${key}"`);
    }
  }
  return faults;
}

/** Validates a graphql fault setting and returns a clean copy; unknown keys are errors. */
export function parseGraphqlFaults(input: unknown): GraphqlFaults {
  if (!isRecord(input)) throw new Error('graphql faults must be a JSON object');
  const faults: GraphqlFaults = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    switch (key) {
      case 'hang':
        if (typeof value !== 'boolean') throw new Error('graphql fault hang must be a boolean');
        faults.hang = value;
        break;
      case 'latencyMs':
        faults.latencyMs = checkNumber(key, value, 0, Number.MAX_SAFE_INTEGER, false);
        break;
      case 'status':
        faults.status = checkNumber(key, value, 200, 599, true);
        break;
      case 'body':
        if (typeof value !== 'string') throw new Error('graphql fault body must be a string');
        faults.body = value;
        break;
      default:
        throw new Error(`unknown graphql fault "${key}"`);
    }
  }
  return faults;
}

/** True with probability `rate` (0..1). */
export function chance(rate: number | undefined): boolean {
  return rate !== undefined && rate > 0 && Math.random() < rate;
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
