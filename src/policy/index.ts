import { RuleSet } from './rules/index.js';
import type { Registry } from '../routing/registry.js';
import { Experiments } from './experiments.js';
import { Mirrors } from './mirror.js';
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
  }

  /** Its config was replaced and its last request has ended: release what it holds. */
  async close(): Promise<void> {}

  /** Counters for tests, readiness and metrics. */
  stats(): { supersededTotal: number; supersedable: number; mirrors: Record<string, MirrorStats> } {
    return {
      supersededTotal: this.superseder.supersededTotal,
      supersedable: this.superseder.inFlight,
      mirrors: this.mirrors.stats(),
    };
  }
}

export { RuleSet, type RuleOutcome } from './rules/index.js';
export { Superseder, type Supersedable } from './supersession.js';
export { EXPERIMENT_HEADER, type Enrollment, type ExperimentArm } from './experiments.js';
export type { MirrorStats } from './shadow.js';
