import { z } from 'zod';
import { RulesConfig } from './rules-schema.js';
import { experimentReferenceIssues, ExperimentsConfig } from './experiments-schema.js';
import { mirrorReferenceIssues, MirrorsConfig } from './mirror-schema.js';
import { catalogOf, isRecord, type ReferenceIssue } from './references.js';
import { RateLimitsConfig } from './limits-schema.js';
import { SupersessionConfig } from './supersession-schema.js';

/**
 * `policy`: what the gateway decides about a request beyond routing it. Each feature keeps its
 * schema in its own file; this composes them.
 */
export const PolicyConfig = z.strictObject({
  rules: RulesConfig,
  limits: RateLimitsConfig.prefault({}),
  supersession: SupersessionConfig.prefault({}),
  experiments: ExperimentsConfig,
  mirrors: MirrorsConfig,
});

export type PolicyConfig = z.output<typeof PolicyConfig>;

/**
 * The policy's references to models and deployments, checked against the rest of the config
 * (called from the config's own cross-reference checks). Paths start at `policy`.
 */
export function policyReferenceIssues(cfg: {
  deployments?: unknown;
  models?: unknown;
  policy?: unknown;
}): ReferenceIssue[] {
  if (!isRecord(cfg.policy)) return [];
  const catalog = catalogOf(cfg);
  return [
    ...experimentReferenceIssues(cfg.policy.experiments, catalog),
    ...mirrorReferenceIssues(cfg.policy.mirrors, catalog, cfg.policy.experiments),
  ].map((i) => ({ path: ['policy', ...i.path], message: i.message }));
}
