import { Client } from './client/odp-client';
import { browserPlatform } from './platform/browser/browser-platform';
import type { OdpClient, OdpClientConfig, OdpSegments } from './types';

// The script-tag build (global `odpSdk`): events only, to stay small. Real-Time Segments and user
// contexts come from the add-on bundle `odp-sdk.segments.min.js`, which calls `useSegments` when it loads.
let segments: OdpSegments | undefined;

/** Creates an ODP client for the page. */
export function createInstance(config: OdpClientConfig): OdpClient {
  return new Client(config, browserPlatform(), { segments });
}

/** Called by the add-on bundle `odp-sdk.segments.min.js`: clients created afterwards have segments and user contexts. */
export function useSegments(extension: OdpSegments): void {
  segments = extension;
}

export { OdpError, isOdpError } from './event/odp-error';
export { SDK_NAME, SDK_VERSION } from './meta';
