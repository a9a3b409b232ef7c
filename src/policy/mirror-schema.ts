import { z } from 'zod';
import {
  isRecord,
  unknownDeployment,
  unknownModel,
  type ConfigCatalog,
  type ReferenceIssue,
} from './references.js';
import { RequestMatchConfig } from './request-match-schema.js';

/**
 * One shadow deployment: a sample of the matching requests is also sent there, after the
 * primary; its answer is read and dropped, only its latency and errors are recorded.
 */
export const MirrorConfig = z.strictObject({
  /** A deployment from `deployments` that serves no model: shadow traffic is invisible to routing. */
  deployment: z.string().min(1),
  /** Share of matching requests mirrored, 0..1. */
  sample: z.number().min(0).max(1),
  match: RequestMatchConfig.optional(),
  /** The model name sent to the shadow; default: the upstream name of the model the primary went to. */
  upstreamModel: z.string().min(1).optional(),
  /** Shadow requests in flight at once; a sampled request beyond it is not mirrored (counted as dropped). */
  maxInFlight: z.number().int().min(1).max(100_000).default(64),
});

/** `policy.mirrors`: shadow traffic, one entry per shadow deployment (checked with the references). */
export const MirrorsConfig = z.array(MirrorConfig).max(16).default([]);

export type MirrorConfig = z.output<typeof MirrorConfig>;
export type MirrorsConfig = z.output<typeof MirrorsConfig>;

/**
 * Config-level checks (config/schema.ts): a shadow deployment exists, is mirrored once and serves
 * no model (its traffic is not counted by routing, so primaries sharing it would overload it
 * unseen), and the models a mirror matches exist.
 */
export function mirrorReferenceIssues(list: unknown, catalog: ConfigCatalog): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  if (!Array.isArray(list)) return issues;
  const mirrored = new Set<string>();
  list.forEach((m: unknown, i) => {
    if (!isRecord(m)) return;
    if (typeof m.deployment === 'string') {
      if (mirrored.has(m.deployment))
        issues.push({
          path: ['mirrors', i, 'deployment'],
          message: `deployment "${m.deployment}" is already mirrored (one entry per shadow deployment)`,
        });
      mirrored.add(m.deployment);
      if (!catalog.deployments.has(m.deployment))
        issues.push({
          path: ['mirrors', i, 'deployment'],
          message: unknownDeployment(catalog, m.deployment),
        });
      else if (catalog.serving.has(m.deployment))
        issues.push({
          path: ['mirrors', i, 'deployment'],
          message: `deployment "${m.deployment}" serves a model; a shadow deployment must serve none (shadow load is invisible to routing)`,
        });
    }
    const models = isRecord(m.match) && Array.isArray(m.match.models) ? (m.match.models as unknown[]) : [];
    models.forEach((name, j) => {
      if (typeof name === 'string' && !catalog.models.has(name))
        issues.push({ path: ['mirrors', i, 'match', 'models', j], message: unknownModel(catalog, name) });
    });
  });
  return issues;
}
