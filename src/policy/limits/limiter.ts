import { performance } from 'node:perf_hooks';
import type { ErrorCode } from '../../errors/codes.js';
import { GatewayError } from '../../errors/gateway-error.js';
import type { RequestContext } from '../../proxy/context.js';
import { TokenMeter } from '../../proxy/token-meter.js';
import type { LimitsRedisConfig, RateLimitsConfig } from '../limits-schema.js';
import { retryAfterS } from './bucket.js';
import { MemoryLimitStore } from './memory-store.js';
import { Plans, type LimitKind, type Plan, type Scope } from './plan.js';
import type { RedisLimitStore } from './redis-store.js';
import { UNCHECKED, type LimitStore, type Verdict } from './store.js';

/** A slot in flight outlives its request's deadline by this much before Redis frees it by itself. */
const LEASE_GRACE_MS = 5000;

/** What the limiter counted since start (a reload carries the counts on). */
export interface LimiterStats {
  /** Requests refused with 429, by the kind of limit that refused them. */
  readonly rateLimited: Readonly<Record<LimitKind, number>>;
  /** Requests refused with 429, by the scope of the bucket that refused them. */
  readonly rateLimitedByScope: Readonly<Record<Scope, number>>;
  /** Requests admitted without a check because the store could not be asked (failOpen). */
  readonly unchecked: number;
  /** Requests refused with 503 because the store could not be asked (failOpen false). */
  readonly failedClosed: number;
  /** The shared store: whether it is connected, and settles it could not send. Undefined for memory. */
  readonly redis: { readonly connected: boolean; readonly droppedSettles: number } | undefined;
}

class Counters {
  readonly rateLimited: Record<LimitKind, number> = { requests: 0, tokens: 0, concurrent: 0 };
  readonly rateLimitedByScope: Record<Scope, number> = { user: 0, org: 0, sku: 0 };
  unchecked = 0;
  failedClosed = 0;
}

/** A store and the limiters (config generations) using it: the last to let go closes it. */
class SharedStore {
  holders = 1;
  store: LimitStore | undefined;
  starting: Promise<void> | undefined;

  constructor(
    readonly settings: string,
    store: LimitStore | undefined,
  ) {
    this.store = store;
  }
}

/** The code a refusal gets, per kind of limit: clients tell "slow down" from "quota gone" from "too many open". */
const CODE: Readonly<Record<LimitKind, ErrorCode>> = {
  requests: 'GW_RATE_LIMITED',
  tokens: 'GW_QUOTA_EXCEEDED',
  concurrent: 'GW_TOO_MANY_IN_FLIGHT',
};

/** What a client is told: whose bucket refused (the user's own, the org's, the plan's), never who. */
const DETAIL: Readonly<Record<Scope, string>> = {
  user: "Limit: this user's own (policy.limits user).",
  org: "Limit: the organisation's, shared by its users (policy.limits org).",
  sku: "Limit: the plan's, shared by every user on it (policy.limits sku).",
};

/**
 * Rate limits and quotas (`policy.limits`): admits or refuses each identified request against
 * its user's, org's and sku's token buckets and its user's cap on requests in flight, in one
 * step, and settles what it took when the request ends (its slot back, its generated tokens
 * charged). Built once per config; a reload with the same store settings hands the store (its
 * buckets, its Redis connection) to the new limiter.
 */
export class RateLimiter {
  /** Undefined when nothing is limited: every request passes with one branch. */
  readonly #plans: Plans | undefined;
  readonly #failOpen: boolean;
  readonly #redis: LimitsRedisConfig | undefined;
  readonly #shared: SharedStore | undefined;
  readonly #counters: Counters;
  #closed = false;

  constructor(cfg: RateLimitsConfig, previous?: RateLimiter) {
    const plans = new Plans(cfg);
    this.#plans = plans.empty ? undefined : plans;
    this.#failOpen = cfg.redis?.failOpen ?? true;
    this.#redis = cfg.store === 'redis' ? cfg.redis : undefined;
    this.#counters = previous === undefined ? new Counters() : previous.#counters;
    // Nothing limited: no store, no connection.
    if (this.#plans === undefined) return;
    const settings = JSON.stringify([cfg.store, cfg.redis ?? null, cfg.memory]);
    const prev = previous === undefined ? undefined : previous.#shared;
    if (prev !== undefined && prev.settings === settings && prev.holders > 0) {
      prev.holders++;
      this.#shared = prev;
    } else {
      this.#shared = new SharedStore(
        settings,
        cfg.store === 'memory' ? new MemoryLimitStore(cfg.memory.maxKeys) : undefined,
      );
    }
  }

  /** True when some limit is configured. */
  get enabled(): boolean {
    return this.#plans !== undefined;
  }

  /**
   * Connects the Redis store when one is configured; resolves once connected or after a short
   * start timeout (then requests meet failOpen until Redis answers). Never rejects.
   */
  start(): Promise<void> {
    const shared = this.#shared;
    const redis = this.#redis;
    if (shared === undefined || redis === undefined) return Promise.resolve();
    shared.starting ??= (async () => {
      // ioredis (~1.2 MB of heap) is loaded only by gateways that use it: the serving heap is watched.
      const { RedisLimitStore } = await import('./redis-store.js');
      if (shared.holders === 0) return;
      const store = new RedisLimitStore(redis);
      shared.store = store;
      await store.start();
    })();
    return shared.starting;
  }

  /**
   * Admits `ctx` or says why not: undefined to go on, a GatewayError (429 GW_RATE_LIMITED, or
   * 503 GW_RATE_LIMIT_UNAVAILABLE when the store cannot be asked and failOpen is off) to refuse,
   * or a promise of either with the Redis store. A request without an identity (auth off) is
   * never limited. Admitted requests give back what they took when they end (ctx.onFinish).
   */
  admit(ctx: RequestContext): GatewayError | undefined | Promise<GatewayError | undefined> {
    const plans = this.#plans;
    if (plans === undefined) return undefined;
    const id = ctx.identity;
    if (id === undefined) return undefined;
    const plan = plans.of(id.sku);
    if (plan === undefined) return undefined;
    const store = this.#shared?.store;
    if (store === undefined) return this.#decide(ctx, UNCHECKED);
    if (plan.meters) ctx.tokens = new TokenMeter();
    const verdict = store.admit(id, plan, plan.concurrent === undefined ? 0 : leaseMs(ctx));
    return verdict instanceof Promise
      ? verdict.then((v) => this.#decide(ctx, v))
      : this.#decide(ctx, verdict);
  }

  /** Counters for metrics and tests. */
  stats(): LimiterStats {
    const c = this.#counters;
    const store = this.#shared?.store;
    const redis = this.#redis === undefined ? undefined : (store as RedisLimitStore | undefined);
    return {
      rateLimited: { ...c.rateLimited },
      rateLimitedByScope: { ...c.rateLimitedByScope },
      unchecked: c.unchecked,
      failedClosed: c.failedClosed,
      redis:
        this.#redis === undefined
          ? undefined
          : { connected: redis?.connected ?? false, droppedSettles: redis?.droppedSettles ?? 0 },
    };
  }

  /** This config generation is done: the store closes when no newer one took it over. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const shared = this.#shared;
    if (shared === undefined || --shared.holders > 0) return;
    await shared.starting;
    await shared.store?.close();
  }

  #decide(ctx: RequestContext, v: Verdict): GatewayError | undefined {
    if (v.ok) {
      // Exactly once, however the request ends: ok, error, client gone, superseded, deadline.
      ctx.onFinish(() => v.settle(ctx.tokens?.tokens ?? 0));
      if (v.checked) return undefined;
      if (this.#failOpen) {
        this.#counters.unchecked++;
        return undefined;
      }
      this.#counters.failedClosed++;
      return new GatewayError('GW_RATE_LIMIT_UNAVAILABLE', { retryAfterS: 1 });
    }
    this.#counters.rateLimited[v.kind]++;
    this.#counters.rateLimitedByScope[v.scope]++;
    return new GatewayError(CODE[v.kind], {
      detail: DETAIL[v.scope],
      retryAfterS: retryAfterS(v.waitMs),
    });
  }
}

/** How long a slot may be held: the request's remaining time plus a grace. */
function leaseMs(ctx: RequestContext): number {
  const remaining = ctx.deadlineAt - performance.now();
  return (Number.isFinite(remaining) ? Math.max(0, remaining) : 600_000) + LEASE_GRACE_MS;
}

export type { Plan };
