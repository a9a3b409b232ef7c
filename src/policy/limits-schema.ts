import { z } from 'zod';

/**
 * `policy.limits`: token buckets per user, per org and per sku (requests per second with a burst,
 * generated tokens per minute) and a cap on each user's requests in flight. Nothing is limited
 * until a scope is configured; requests without a verified identity (auth.mode none) are never
 * limited. docs/policy.md, "Rate limits and quotas", is the user's guide.
 */

/** The limits one scope can have; every field is optional, an absent one does not limit. */
const bucketFields = {
  /** Requests admitted per second, on average (fractions allowed: 0.5 is one every two seconds). */
  requestsPerSecond: z.number().positive().max(1_000_000).optional(),
  /** Requests admitted at once after a quiet spell (the bucket's size); default: one second's worth, at least 1. */
  burst: z.number().int().min(1).max(1_000_000).optional(),
  /**
   * Completion tokens generated per minute. A request is admitted while the bucket is not in
   * debt; what it generated is charged when it ends, so one request can take the bucket below zero.
   */
  tokensPerMinute: z.number().int().min(1).max(1_000_000_000_000).optional(),
};

const burstNeedsRate = <T extends { requestsPerSecond?: number | undefined; burst?: number | undefined }>(
  s: T,
): boolean => s.burst === undefined || s.requestsPerSecond !== undefined;
const burstMessage = { path: ['burst'], message: 'burst needs requestsPerSecond' };

/** `user`: each user's own buckets, and the cap on their requests in flight. */
export const UserLimits = z
  .strictObject({
    ...bucketFields,
    /** Requests of one user in flight at once (across instances with the Redis store). */
    concurrent: z.number().int().min(1).max(1_000_000).optional(),
  })
  .refine(burstNeedsRate, burstMessage);

/** `org` and `sku`: buckets shared by every user of the org, or of the plan. */
export const SharedLimits = z.strictObject(bucketFields).refine(burstNeedsRate, burstMessage);

/**
 * `skus.<name>`: what differs for users on that plan (a free plan gets less). Each scope is
 * merged field by field over the default one; `requestsPerSecond` and `burst` go together (an
 * override that sets either replaces both). Orgs are shared across plans, so they have none.
 */
export const SkuLimits = z.strictObject({
  user: UserLimits.optional(),
  sku: SharedLimits.optional(),
});

/** `redis`: the store every instance shares. */
export const LimitsRedisConfig = z.strictObject({
  url: z.string().regex(/^rediss?:\/\//, 'expected redis:// or rediss://'),
  keyPrefix: z.string().min(1).max(256).default('ghostwire:limits'),
  /** A check that has no answer by then is treated as Redis being unreachable. */
  timeoutMs: z.number().int().min(1).max(10_000).default(50),
  /** With Redis unreachable: admit unchecked (true) or refuse with 503 GW_RATE_LIMIT_UNAVAILABLE (false). */
  failOpen: z.boolean().default(true),
  /** At most one "store unreachable" message per this interval. */
  logIntervalMs: z.number().int().min(1000).max(3_600_000).default(60_000),
});

export const RateLimitsConfig = z
  .strictObject({
    /** memory: this instance alone (the default). redis: one limit shared by every instance. */
    store: z.enum(['memory', 'redis']).default('memory'),
    redis: LimitsRedisConfig.optional(),
    memory: z
      .strictObject({
        /** Buckets kept per scope; past it, idle (full) buckets are dropped first, then the oldest. */
        maxKeys: z.number().int().min(100).max(10_000_000).default(100_000),
      })
      .prefault({}),
    user: UserLimits.optional(),
    org: SharedLimits.optional(),
    sku: SharedLimits.optional(),
    skus: z.record(z.string().min(1), SkuLimits).default({}),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.store === 'redis' && cfg.redis === undefined)
      ctx.addIssue({ code: 'custom', path: ['redis'], message: 'store: redis needs redis.url' });
    if (cfg.store === 'memory' && cfg.redis !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['store'],
        message: 'redis is set but store is memory: set store: redis, or remove redis',
      });
  });

export type RateLimitsConfig = z.output<typeof RateLimitsConfig>;
export type UserLimits = z.output<typeof UserLimits>;
export type SharedLimits = z.output<typeof SharedLimits>;
export type LimitsRedisConfig = z.output<typeof LimitsRedisConfig>;
