import { Client } from './client/odp-client';
import { workerPlatform } from './platform/worker/worker-platform';
import { handOver } from './client/wait-until';
import { MergingDispatcher } from './dispatcher/merging';
import { segments } from './segments/index';
import type { OdpClient, OdpClientConfig, SdkBuild } from './types';

/**
 * Creates an ODP client for Workers, edge functions and Deno (fetch-based). In a serverless
 * function give `waitUntil`, or `await client.flush()` before returning.
 */
export function createInstance(config: OdpClientConfig): OdpClient {
  return new Client(config, workerPlatform, { segments, handOver, dispatcher: MergingDispatcher });
}

/** The build this runtime loaded. */
export const SDK_BUILD: SdkBuild = 'worker';

export { OdpError, isOdpError, type OdpErrorCode } from './event/odp-error';
export { SDK_NAME, SDK_VERSION } from './meta';
export type * from './types';
