import { createSegments, type SegmentsFactory } from './segments-manager';

// The script-tag add-on (dist/odp-sdk.segments.min.js): load it after odp-sdk.umd.min.js, and
// clients created afterwards fetch Real-Time Segments.
const sdk = (globalThis as { odpSdk?: { useSegments?: (factory: SegmentsFactory) => void } }).odpSdk;
if (sdk?.useSegments) sdk.useSegments(createSegments);
else console.error('[odp-sdk] load odp-sdk.segments.min.js after odp-sdk.umd.min.js');
