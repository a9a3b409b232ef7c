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

/** Experiment and arm names travel in a response header (`exp=arm, exp=arm`): no separators in them. */
const name = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 letters, digits, ., - or _ (it is sent in a header)');

/**
 * Sampling fields an arm sets on every request it gets, with OpenAI's names and ranges. They
 * replace what the client sent (an arm that lowers max_tokens lowers it for everyone in it).
 */
export const ArmParams = z.strictObject({
  max_tokens: z.number().int().min(1).max(1_000_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  /** One stop sequence or up to 16 (an empty list removes the client's). */
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(16)]).optional(),
});

export const ArmConfig = z.strictObject({
  name,
  /** Relative share of the experiment's users: weights 1 and 3 give 25% and 75%. */
  weight: z.number().positive().max(1_000_000),
  /** The model (name or alias) requests in this arm go to instead of the one they asked for. */
  model: z.string().min(1).optional(),
  /** Only these deployments of the arm's model serve it (by name; all of them when absent). */
  deployments: z
    .array(z.string().min(1))
    .min(1)
    .refine((d) => new Set(d).size === d.length, 'a deployment is listed twice')
    .optional(),
  params: ArmParams.optional(),
});

export const ExperimentConfig = z
  .strictObject({
    /** Unique; with the user id, it decides the user's arm (renaming an experiment reshuffles it). */
    name,
    /** Off: the experiment keeps its config but enrolls nobody. */
    enabled: z.boolean().default(true),
    match: RequestMatchConfig.optional(),
    /**
     * Whether the request's arm of this experiment is in the `experiment` metric label. Off: it
     * is still in the header and the request's log line. See MAX_LABEL_VALUES.
     */
    metricLabel: z.boolean().default(true),
    arms: z.array(ArmConfig).min(1).max(64),
  })
  .superRefine((e, ctx) => {
    const seen = new Set<string>();
    e.arms.forEach((a, i) => {
      if (seen.has(a.name))
        ctx.addIssue({
          code: 'custom',
          path: ['arms', i, 'name'],
          message: `duplicate arm name "${a.name}"`,
        });
      seen.add(a.name);
    });
  });

/**
 * `policy.experiments`: weighted arms, each user sticky to one arm per experiment (a hash of the
 * user id and the experiment name). Experiments apply in the order listed. Unique names are
 * checked with the references (experimentReferenceIssues), so they are reported whatever else
 * is wrong in the list.
 */
export const ExperimentsConfig = z
  .array(ExperimentConfig)
  .max(32)
  .default([])
  .superRefine((list, ctx) => {
    const values = labelValues(list);
    if (values > MAX_LABEL_VALUES)
      ctx.addIssue({
        code: 'custom',
        message: `the experiment metric label would take up to ${values} values (the product of each labelled experiment's arms + 1); at most ${MAX_LABEL_VALUES}: set metricLabel: false on some experiments`,
      });
  });

/**
 * The most values the `experiment` metric label may take: every series of every request metric
 * is multiplied by it, so the config bounds it, not the traffic.
 */
export const MAX_LABEL_VALUES = 64;

/** How many values the metric label can take: per labelled, enabled experiment, its arms or none. */
export function labelValues(
  list: readonly { enabled: boolean; metricLabel: boolean; arms: readonly unknown[] }[],
): number {
  let n = 1;
  for (const e of list) if (e.enabled && e.metricLabel) n *= e.arms.length + 1;
  return n;
}

export type ArmParams = z.output<typeof ArmParams>;
export type ArmConfig = z.output<typeof ArmConfig>;
export type ExperimentConfig = z.output<typeof ExperimentConfig>;
export type ExperimentsConfig = z.output<typeof ExperimentsConfig>;

/**
 * Config-level checks (config/schema.ts): experiment names are unique, the models and
 * deployments an experiment names exist, and an arm's deployments serve the model the arm routes
 * to: its own `model`, or else every model the experiment matches; with neither, at least one
 * model must be served by all of them (the arm restricts those models and leaves the rest).
 */
export function experimentReferenceIssues(list: unknown, catalog: ConfigCatalog): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  if (!Array.isArray(list)) return issues;
  const names = new Set<string>();
  list.forEach((e: unknown, i) => {
    if (!isRecord(e)) return;
    if (typeof e.name === 'string') {
      if (names.has(e.name))
        issues.push({ path: ['experiments', i, 'name'], message: `duplicate experiment name "${e.name}"` });
      names.add(e.name);
    }
    const matched: string[] = [];
    const models = isRecord(e.match) ? namesIn(e.match.model) : [];
    // Parsed, one name is a list of one: then the path ends at the field, as it may have been written.
    const single = models.length === 1;
    models.forEach((m, j) => {
      if (typeof m !== 'string') return;
      const model = catalog.models.get(m);
      if (model === undefined)
        issues.push({
          path: ['experiments', i, 'match', 'model', ...(single ? [] : [j])],
          message: unknownModel(catalog, m),
        });
      else matched.push(model.name);
    });
    const arms = Array.isArray(e.arms) ? (e.arms as unknown[]) : [];
    arms.forEach((a, k) => {
      if (!isRecord(a)) return;
      const at = ['experiments', i, 'arms', k];
      let routesTo: string[] = matched;
      if (typeof a.model === 'string') {
        const model = catalog.models.get(a.model);
        if (model === undefined) {
          issues.push({ path: [...at, 'model'], message: unknownModel(catalog, a.model) });
          return;
        }
        routesTo = [model.name];
      }
      if (!Array.isArray(a.deployments)) return;
      const listed = (a.deployments as unknown[]).filter((d): d is string => typeof d === 'string');
      if (routesTo.length === 0 && models.length === 0 && listed.every((d) => catalog.deployments.has(d))) {
        // Any model: it must restrict at least one, or the arm would change nothing.
        const served = [...catalog.models.values()].some((m) =>
          listed.every((d) => m.deployments.includes(d)),
        );
        if (!served)
          issues.push({
            path: [...at, 'deployments'],
            message: `no model is served by all of ${listed.join(', ')}: the arm would change nothing (name its model, or list deployments of one model)`,
          });
        return;
      }
      (a.deployments as unknown[]).forEach((d, l) => {
        if (typeof d !== 'string') return;
        if (!catalog.deployments.has(d)) {
          issues.push({ path: [...at, 'deployments', l], message: unknownDeployment(catalog, d) });
          return;
        }
        for (const m of routesTo)
          if (catalog.models.get(m)?.deployments.includes(d) !== true)
            issues.push({
              path: [...at, 'deployments', l],
              message: `deployment "${d}" does not serve model "${m}", where this arm's requests go`,
            });
      });
    });
  });
  return issues;
}
