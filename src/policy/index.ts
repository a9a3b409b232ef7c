import { RuleSet } from './rules/index.js';
import type { Registry } from '../routing/registry.js';
import { Experiments } from './experiments.js';
import { Mirrors } from './mirror.js';
import { RateLimiter, type LimiterStats } from './limits/limiter.js';
import type { PolicyConfig } from './schema.js';
import type { MirrorStats } from './shadow.js';
import { Superseder } from './supersession.js';

/**
 * Everything the gateway decides about a request beyond routing it, built once from `policy:`.
 * A reload builds a new one; requests in flight keep the one they started with.
 */
export class Policy {
  /** Rewrite rules; undefined when there are none, so a request pays one property check. */
  readonly rules: RuleSet | undefined;
  readonly superseder: Superseder;
  readonly experiments: Experiments;
  readonly mirrors: Mirrors;
  readonly limiter: RateLimiter;

  /**
   * With `previous` (a config reload), state that outlives a config is taken over from it.
   * `registry`: the models and deployments experiments and mirrors refer to (checked at config load).
   */
  constructor(cfg: PolicyConfig, previous: Policy | undefined, registry: Registry) {
    // Rules hold no state: a reload compiles the new list and new requests use it.
    this.rules = cfg.rules.length === 0 ? undefined : new RuleSet(cfg.rules);
    this.superseder = new Superseder(cfg.supersession, previous?.superseder);
    this.experiments = new Experiments(cfg.experiments, registry);
    this.mirrors = new Mirrors(cfg.mirrors, registry, previous?.mirrors);
    this.limiter = new RateLimiter(cfg.limits, previous?.limiter);
  }

  /**
   * Connects what needs a connection (the Redis rate-limit store, or takes over the previous
   * Policy's); bounded in time, never rejects.
   */
  async start(): Promise<void> {
    await this.limiter.start();
  }

  /** Its config was replaced and its last request has ended (or the gateway stops): release what it holds. */
  async close(): Promise<void> {
    await this.limiter.close();
  }

  /** Counters for tests, readiness and metrics. */
  stats(): {
    supersededTotal: number;
    supersedable: number;
    mirrors: Record<string, MirrorStats>;
    rateLimited: number;
    limits: LimiterStats;
  } {
    const limits = this.limiter.stats();
    const { requests, tokens, concurrent } = limits.rateLimited;
    return {
      supersededTotal: this.superseder.supersededTotal,
      supersedable: this.superseder.inFlight,
      mirrors: this.mirrors.stats(),
      rateLimited: requests + tokens + concurrent,
      limits,
    };
  }
}

export { RuleSet, type RuleOutcome } from './rules/index.js';
export { Superseder, type Supersedable } from './supersession.js';
export { EXPERIMENT_HEADER, type Enrollment, type ExperimentArm } from './experiments.js';
export type { MirrorStats } from './shadow.js';
export { RateLimiter, type LimiterStats } from './limits/limiter.js';
