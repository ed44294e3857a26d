import type { OdpSegments } from '../types';
import type { SegmentsExtension } from './extension';
import { createSegments } from './segments-manager';
import { createUserContext } from './user-context';

/**
 * Real-Time Segments and user contexts, as a client extension: `createInstance({ ..., segments })`
 * with this value (`import { segments } from 'odp-sdk/segments'`). Node and the runtime builds
 * include it by default; the browser builds do not, so that a page that only sends events does
 * not carry it (the script tag gets it from the add-on `odp-sdk.segments.min.js`).
 */
export const segments: OdpSegments = { name: 'odp-sdk/segments', service: createSegments, userContext: createUserContext } as SegmentsExtension;
