import { Client } from './client/odp-client';
import { nodePlatform } from './platform/node/node-platform';
import { handOver } from './client/wait-until';
import { MergingDispatcher } from './dispatcher/merging';
import { segments } from './segments/index';
import type { OdpClient, OdpClientConfig, SdkBuild } from './types';

/** Creates an ODP client for Node. Never throws: a bad option is logged and replaced by its default. */
export function createInstance(config: OdpClientConfig): OdpClient {
  return new Client(config, nodePlatform, { segments, handOver, dispatcher: MergingDispatcher });
}

/** The build this runtime loaded. */
export const SDK_BUILD: SdkBuild = 'node';

export { OdpError, isOdpError, type OdpErrorCode } from './event/odp-error';
export { SDK_NAME, SDK_VERSION } from './meta';
export type * from './types';
