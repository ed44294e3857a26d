import { isVuid } from '../client/vuid';
import type { SafeLogger } from '../core/logger';
import { isRecord } from '../core/values';
import type { SegmentsUserKey } from './segments-fetcher';
import type { FetchQualifiedSegmentsOptions, OdpUserAttributes, OdpUserContext, OptimizelySegmentOption } from '../types';

/** What a user context needs from its client. */
export interface UserContextHost {
  readonly logger: SafeLogger;
  /** A valid datafile is held. */
  ready(): boolean;
  /** The client's visitor id, or null. */
  vuid(): string | null;
  /** Counts an implicit event discarded before the client was ready. */
  notReady(): void;
  /** Sends the implicit `identified` event, when ODP is usable and the user did not opt out. */
  identify(identifiers: Record<string, string>): void;
  /** The user's qualified segments, or null when they could not be fetched; never rejects. */
  fetchSegments(userKey: SegmentsUserKey, userValue: string, options: FetchQualifiedSegmentsOptions): Promise<string[] | null>;
}

/**
 * `client.createUserContext`: a context for one user, and the implicit `identified` event when the
 * user id and the visitor id make two identifiers to link. Null, with a warning, before the client
 * is ready (the identify event is discarded too, and counted) or for a user id that is not a
 * non-empty string. Never throws.
 */
export function createUserContext(host: UserContextHost, userId: unknown, attributes: unknown): OdpUserContext | null {
  try {
    const valid = typeof userId === 'string' && userId !== '';
    if (!host.ready()) {
      host.logger.warn('createUserContext: the datafile is not ready yet: no user context, identified event discarded (await client.onReady() first)');
      if (valid && Object.keys(identifyIdentifiers(userId, host.vuid())).length >= 2) host.notReady();
      return null;
    }
    if (!valid) {
      host.logger.error('createUserContext: userId must be a non-empty string');
      return null;
    }
    const isObject = isRecord(attributes);
    if (attributes !== undefined && !isObject) host.logger.warn('createUserContext: attributes must be an object');
    const user = new UserContext(userId, isObject ? (attributes as OdpUserAttributes) : {}, host);
    const identifiers = identifyIdentifiers(userId, host.vuid());
    if (Object.keys(identifiers).length >= 2) host.identify(identifiers);
    return user;
  } catch (error) {
    // Unreachable by design (a hostile attributes object at most); nothing escapes to the host.
    host.logger.error(`createUserContext failed: ${String(error)}`);
    return null;
  }
}

/** ODP looks a user up by `vuid` when the id is a visitor id, else by `fs_user_id`. */
export function userKeyFor(userId: string): SegmentsUserKey {
  return isVuid(userId) ? 'vuid' : 'fs_user_id';
}

/**
 * The identifiers of the implicit `identified` event: the user id, plus the client's visitor id
 * when it has one. The event is worth sending only when this holds two or more identifiers
 * (it exists to link them), so the visitor id is counted too.
 */
export function identifyIdentifiers(userId: string, vuid: string | null): Record<string, string> {
  const identifiers: Record<string, string> = { [userKeyFor(userId)]: userId };
  if (vuid && identifiers.vuid === undefined) identifiers.vuid = vuid;
  return identifiers;
}

/** The user context behind the public {@link OdpUserContext} interface (made by `client.createUserContext`). */
export class UserContext implements OdpUserContext {
  /** The id ODP knows the user by (`fs_user_id`, or `vuid` for a visitor id). */
  readonly userId: string;
  private readonly attributes_: OdpUserAttributes;
  private segments: readonly string[] | null = null;

  /** Made by `client.createUserContext`; not meant to be called directly. */
  constructor(
    userId: string,
    attributes: OdpUserAttributes,
    private readonly host: Pick<UserContextHost, 'fetchSegments'>,
  ) {
    this.userId = userId;
    this.attributes_ = { ...attributes };
  }

  /** A copy of the attributes given to `createUserContext`. */
  get attributes(): OdpUserAttributes {
    return { ...this.attributes_ };
  }

  /** The segments the user qualified for at the last successful fetch; null before one, or when the last fetch failed. */
  get qualifiedSegments(): readonly string[] | null {
    return this.segments;
  }

  /**
   * Fetches (or takes from the cache) the ODP segments, among those the datafile's audiences use,
   * that the user qualifies for. Resolves `true` on success, `false` when it failed (the reason is
   * logged and `qualifiedSegments` becomes null). Never rejects.
   */
  async fetchQualifiedSegments(options?: FetchQualifiedSegmentsOptions | readonly OptimizelySegmentOption[]): Promise<boolean> {
    try {
      // Optimizely's SDK takes an array of option names: the same meaning here.
      const given: Partial<Record<keyof FetchQualifiedSegmentsOptions, unknown>> = Array.isArray(options)
        ? { ignoreCache: options.includes('IGNORE_CACHE'), resetCache: options.includes('RESET_CACHE') }
        : typeof options === 'object' && options !== null
          ? (options as FetchQualifiedSegmentsOptions)
          : {};
      const segments = await this.host.fetchSegments(userKeyFor(this.userId), this.userId, {
        ignoreCache: given.ignoreCache === true,
        resetCache: given.resetCache === true,
      });
      this.segments = segments ? Object.freeze([...segments]) : null;
    } catch {
      // The host never rejects; this guards a hostile options object (a throwing getter).
      this.segments = null;
    }
    return this.segments !== null;
  }

  /** True when the last successful fetch found the user in `segment`. */
  isQualifiedFor(segment: string): boolean {
    return this.segments !== null && this.segments.includes(segment);
  }
}
