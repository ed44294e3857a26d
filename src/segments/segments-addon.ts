import type { OdpSegments } from '../types';
import { segments } from './index';

// The script-tag add-on (dist/odp-sdk.segments.min.js): load it after odp-sdk.umd.min.js, and
// clients created afterwards fetch Real-Time Segments.
const sdk = (globalThis as { odpSdk?: { useSegments?: (extension: OdpSegments) => void } }).odpSdk;
if (sdk?.useSegments) sdk.useSegments(segments);
else console.error('[odp-sdk] load odp-sdk.segments.min.js after odp-sdk.umd.min.js');
