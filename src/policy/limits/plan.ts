import type { RateLimitsConfig, SharedLimits, UserLimits } from '../limits-schema.js';
import type { BucketSpec } from './bucket.js';

/** Whose bucket: the user's own, their org's, or their plan's (sku). */
export type Scope = 'user' | 'org' | 'sku';
/** Which limit: requests per second, generated tokens per minute, requests in flight. */
export type LimitKind = 'requests' | 'tokens' | 'concurrent';

/** The buckets of one scope for one plan; an absent bucket does not limit. */
export interface ScopeRule {
  readonly scope: Scope;
  readonly requests: BucketSpec | undefined;
  readonly tokens: BucketSpec | undefined;
  /**
   * The four numbers the Redis script takes for this rule, as strings, computed once: request
   * rate per ms and capacity, token rate per ms and capacity ('0' for a bucket that is absent).
   */
  readonly scriptArgs: readonly [string, string, string, string];
}

/** Everything limited for users on one sku. */
export interface Plan {
  readonly user: ScopeRule | undefined;
  readonly org: ScopeRule | undefined;
  readonly sku: ScopeRule | undefined;
  /** The cap on one user's requests in flight. */
  readonly concurrent: number | undefined;
  /** Some token bucket applies: the request's generated tokens must be counted. */
  readonly meters: boolean;
}

/**
 * The limits of every sku, resolved once per config: the default plan from `user`, `org` and
 * `sku`, and one plan per entry of `skus` with its overrides merged in. Looking a user's plan up
 * is one Map lookup.
 */
export class Plans {
  readonly #default: Plan | undefined;
  readonly #bySku: Map<string, Plan | undefined>;

  constructor(cfg: RateLimitsConfig) {
    this.#default = plan(cfg.user, cfg.org, cfg.sku);
    this.#bySku = new Map(
      Object.entries(cfg.skus).map(([sku, o]) => [
        sku,
        plan(merge(cfg.user, o.user), cfg.org, merge(cfg.sku, o.sku)),
      ]),
    );
  }

  /** True when no plan limits anything: the limiter can skip every request. */
  get empty(): boolean {
    return this.#default === undefined && [...this.#bySku.values()].every((p) => p === undefined);
  }

  /** The plan of users on `sku`, or undefined when nothing limits them. */
  of(sku: string): Plan | undefined {
    // An override never lifts a limit, so a sku's plan is undefined only when the default is too.
    return this.#bySku.get(sku) ?? this.#default;
  }
}

/**
 * An override merged field by field over the default. `requestsPerSecond` and `burst` are one
 * pair: an override that sets either replaces both, so a lower rate never keeps a larger burst.
 */
function merge<T extends SharedLimits | UserLimits>(base: T | undefined, over: T | undefined): T | undefined {
  if (over === undefined) return base;
  if (base === undefined) return over;
  const pair = over.requestsPerSecond !== undefined || over.burst !== undefined;
  const merged = { ...base, ...over };
  if (pair) {
    merged.requestsPerSecond = over.requestsPerSecond ?? base.requestsPerSecond;
    merged.burst = over.burst;
  }
  return merged;
}

function plan(
  user: UserLimits | undefined,
  org: SharedLimits | undefined,
  sku: SharedLimits | undefined,
): Plan | undefined {
  const u = rule('user', user);
  const o = rule('org', org);
  const s = rule('sku', sku);
  const concurrent = user?.concurrent;
  if (u === undefined && o === undefined && s === undefined && concurrent === undefined) return undefined;
  return {
    user: u,
    org: o,
    sku: s,
    concurrent,
    meters: u?.tokens !== undefined || o?.tokens !== undefined || s?.tokens !== undefined,
  };
}

function rule(scope: Scope, limits: SharedLimits | undefined): ScopeRule | undefined {
  if (limits === undefined) return undefined;
  const rps = limits.requestsPerSecond;
  const requests: BucketSpec | undefined =
    rps === undefined
      ? undefined
      : { ratePerMs: rps / 1000, capacity: limits.burst ?? Math.max(1, Math.ceil(rps)) };
  const tpm = limits.tokensPerMinute;
  const tokens: BucketSpec | undefined =
    tpm === undefined ? undefined : { ratePerMs: tpm / 60_000, capacity: tpm };
  if (requests === undefined && tokens === undefined) return undefined;
  return {
    scope,
    requests,
    tokens,
    scriptArgs: [
      String(requests?.ratePerMs ?? 0),
      String(requests?.capacity ?? 0),
      String(tokens?.ratePerMs ?? 0),
      String(tokens?.capacity ?? 0),
    ],
  };
}
