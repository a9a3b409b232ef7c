import type { PolicyConfig } from './schema.js';
import { Superseder } from './supersession.js';

/**
 * Everything the gateway decides about a request beyond routing it, built once from `policy:`.
 * A reload builds a new one; requests in flight keep the one they started with.
 */
export class Policy {
  readonly superseder: Superseder;

  /** With `previous` (a config reload), state that outlives a config is taken over from it. */
  constructor(cfg: PolicyConfig, previous?: Policy) {
    this.superseder = new Superseder(cfg.supersession, previous?.superseder);
  }

  /** Its config was replaced and its last request has ended: release what it holds. */
  async close(): Promise<void> {}

  /** Counters for tests, readiness and metrics. */
  stats(): { supersededTotal: number; supersedable: number } {
    return { supersededTotal: this.superseder.supersededTotal, supersedable: this.superseder.inFlight };
  }
}

export { Superseder, type Supersedable } from './supersession.js';
