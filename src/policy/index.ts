import { RateLimiter, type LimiterStats } from './limits/limiter.js';
import type { PolicyConfig } from './schema.js';
import { Superseder } from './supersession.js';

/**
 * Everything the gateway decides about a request beyond routing it, built once from `policy:`.
 * A reload builds a new one; requests in flight keep the one they started with.
 */
export class Policy {
  readonly superseder: Superseder;
  readonly limiter: RateLimiter;

  /** With `previous` (a config reload), state that outlives a config is taken over from it. */
  constructor(cfg: PolicyConfig, previous?: Policy) {
    this.superseder = new Superseder(cfg.supersession, previous?.superseder);
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
  stats(): { supersededTotal: number; supersedable: number; rateLimited: number; limits: LimiterStats } {
    const limits = this.limiter.stats();
    const { requests, tokens, concurrent } = limits.rateLimited;
    return {
      supersededTotal: this.superseder.supersededTotal,
      supersedable: this.superseder.inFlight,
      rateLimited: requests + tokens + concurrent,
      limits,
    };
  }
}

export { Superseder, type Supersedable } from './supersession.js';
export { RateLimiter, type LimiterStats } from './limits/limiter.js';
