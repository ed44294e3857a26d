import { Client } from './client/odp-client';
import { browserPlatform } from './platform/browser/browser-platform';
import { createSegments } from './segments/segments-manager';
import type { OdpClient, OdpClientConfig, SdkBuild } from './types';

/** Creates an ODP client for the browser (bundlers and `<script type="module">`), Real-Time Segments included. */
export function createInstance(config: OdpClientConfig): OdpClient {
  return new Client(config, browserPlatform(), createSegments);
}

/** The build this runtime loaded. */
export const SDK_BUILD: SdkBuild = 'browser';

export { OdpError, isOdpError, type OdpErrorCode } from './event/odp-error';
export { SDK_NAME, SDK_VERSION } from './meta';
export type * from './types';
