import { OdpClient } from './client/odp-client';
import { nodePlatform } from './platform/node/node-platform';
import { createSegments } from './segments/segments-manager';
import type { OdpClientConfig, SdkBuild } from './types';

/** Creates an ODP client for Node. */
export function createInstance(config: OdpClientConfig): OdpClient {
  return new OdpClient(config, nodePlatform, createSegments);
}

/** The build this runtime loaded. */
export const SDK_BUILD: SdkBuild = 'node';

export { OdpClient } from './client/odp-client';
export { OdpUserContext } from './segments/user-context';
export { OdpError, type OdpErrorCode } from './event/odp-error';
export { SDK_NAME, SDK_VERSION } from './meta';
export type * from './types';
