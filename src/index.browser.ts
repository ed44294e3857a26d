import { Client } from './client/odp-client';
import { browserPlatform } from './platform/browser/browser-platform';
import type { OdpClient, OdpClientConfig, SdkBuild } from './types';

/**
 * Creates an ODP client for the browser (bundlers and `<script type="module">`). Real-Time
 * Segments and user contexts are an extension: `createInstance({ ..., segments })` with `segments`
 * from `odp-sdk/segments`, so that a page that only sends events does not carry them.
 */
export function createInstance(config: OdpClientConfig): OdpClient {
  return new Client(config, browserPlatform());
}

/** The build this runtime loaded. */
export const SDK_BUILD: SdkBuild = 'browser';

export { OdpError, isOdpError, type OdpErrorCode } from './event/odp-error';
export { SDK_NAME, SDK_VERSION } from './meta';
export type * from './types';
