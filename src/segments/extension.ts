import type { OdpSegments } from '../types';
import type { SegmentsFactory } from './segments-manager';
import type { createUserContext } from './user-context';

/** What the client sees of the public, opaque {@link OdpSegments} (`odp-sdk/segments`). */
export interface SegmentsExtension extends OdpSegments {
  readonly service: SegmentsFactory;
  readonly userContext: typeof createUserContext;
}
