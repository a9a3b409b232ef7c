import { z } from 'zod';
import {
  isRecord,
  namesIn,
  unknownDeployment,
  unknownModel,
  type ConfigCatalog,
  type ReferenceIssue,
} from './references.js';
import { RequestMatchConfig } from './request-match-schema.js';

/** `experiment=arm`, with the names experiments-schema.ts allows. */
const ARM_KEY = /^[A-Za-z0-9_.-]{1,64}=[A-Za-z0-9_.-]{1,64}$/;

/** A mirror's `match`: as an experiment's, and optionally only requests in some experiment arms. */
export const MirrorMatchConfig = RequestMatchConfig.extend({
  /** `experiment=arm` entries: only requests in one of those arms are mirrored (mirroring per experiment). */
  arms: z.array(z.string().regex(ARM_KEY, 'expected "experiment=arm"')).min(1).max(64).optional(),
});

/**
 * One shadow deployment: a sample of the matching requests is also sent there, after the
 * primary; its answer is read and dropped, only its latency and errors are recorded.
 */
export const MirrorConfig = z.strictObject({
  /** A deployment from `deployments` that serves no model: shadow traffic is invisible to routing. */
  deployment: z.string().min(1),
  /** Share of matching requests mirrored, 0..1. */
  sample: z.number().min(0).max(1),
  match: MirrorMatchConfig.optional(),
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
export function mirrorReferenceIssues(
  list: unknown,
  catalog: ConfigCatalog,
  experiments: unknown,
): ReferenceIssue[] {
  const arms = armsOf(experiments);
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
    const models = isRecord(m.match) ? namesIn(m.match.model) : [];
    // Parsed, one name is a list of one: then the path ends at the field, as it may have been written.
    const single = models.length === 1;
    models.forEach((name, j) => {
      if (typeof name === 'string' && !catalog.models.has(name))
        issues.push({
          path: ['mirrors', i, 'match', 'model', ...(single ? [] : [j])],
          message: unknownModel(catalog, name),
        });
    });
    const inArms = isRecord(m.match) && Array.isArray(m.match.arms) ? (m.match.arms as unknown[]) : [];
    inArms.forEach((key, j) => {
      // A malformed entry is reported by the schema; only a well-formed one can name a missing arm.
      if (typeof key === 'string' && ARM_KEY.test(key) && !arms.has(key))
        issues.push({
          path: ['mirrors', i, 'match', 'arms', j],
          message: `no experiment arm "${key}" in policy.experiments (known: ${[...arms].join(', ') || 'none'})`,
        });
    });
  });
  return issues;
}

/** Every `experiment=arm` the experiments list defines (tolerant of a partly broken one). */
function armsOf(experiments: unknown): Set<string> {
  const out = new Set<string>();
  if (!Array.isArray(experiments)) return out;
  for (const e of experiments as unknown[]) {
    if (!isRecord(e) || typeof e.name !== 'string' || !Array.isArray(e.arms)) continue;
    for (const a of e.arms as unknown[])
      if (isRecord(a) && typeof a.name === 'string') out.add(`${e.name}=${a.name}`);
  }
  return out;
}
