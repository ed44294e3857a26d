import { Client } from './client/odp-client';
import { browserPlatform } from './platform/browser/browser-platform';
import type { SegmentsFactory } from './segments/segments-manager';
import type { OdpClient, OdpClientConfig } from './types';

// The script-tag build (global `odpSdk`): events only, to stay small. Real-Time Segments come
// from the add-on bundle `odp-sdk.segments.min.js`, which calls `useSegments` when it loads.
let segments: SegmentsFactory | undefined;

/** Creates an ODP client for the page. */
export function createInstance(config: OdpClientConfig): OdpClient {
  return new Client(config, browserPlatform(), segments);
}

/** Called by the add-on bundle `odp-sdk.segments.min.js`: clients created afterwards fetch segments. */
export function useSegments(factory: SegmentsFactory): void {
  segments = factory;
}

export { OdpError, isOdpError } from './event/odp-error';
export { SDK_NAME, SDK_VERSION } from './meta';
