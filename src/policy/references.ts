/**
 * What a policy section may refer to in the rest of the config, for the config-level checks
 * (config/schema.ts): models by name or alias, deployments by name. Plain data, no zod: the
 * checks run in the config worker on the parsed config.
 */
export interface ConfigCatalog {
  /** Model name or alias → the model's name and its deployments (`*` is left out: not a name to route to). */
  readonly models: ReadonlyMap<string, { readonly name: string; readonly deployments: readonly string[] }>;
  readonly deployments: ReadonlySet<string>;
  /** Deployments some model (the wildcard too) routes to. */
  readonly serving: ReadonlySet<string>;
}

/** A problem found by a reference check, with its path under `policy`. */
export interface ReferenceIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/** The catalog of a parsed config's models and deployments (tolerant of a partly broken one). */
export function catalogOf(cfg: { deployments?: unknown; models?: unknown }): ConfigCatalog {
  const models = new Map<string, { name: string; deployments: string[] }>();
  const deployments = new Set<string>();
  const serving = new Set<string>();
  for (const d of Array.isArray(cfg.deployments) ? (cfg.deployments as unknown[]) : [])
    if (isRecord(d) && typeof d.name === 'string') deployments.add(d.name);
  for (const m of Array.isArray(cfg.models) ? (cfg.models as unknown[]) : []) {
    if (!isRecord(m) || typeof m.name !== 'string' || !Array.isArray(m.deployments)) continue;
    const entry = {
      name: m.name,
      deployments: m.deployments.filter((d): d is string => typeof d === 'string'),
    };
    for (const d of entry.deployments) serving.add(d);
    if (m.name === '*') continue;
    for (const n of [m.name, ...(Array.isArray(m.aliases) ? (m.aliases as unknown[]) : [])])
      if (typeof n === 'string' && !models.has(n)) models.set(n, entry);
  }
  return { models, deployments, serving };
}

/** `unknown model "x" (known: a, b)`: the message every reference check uses. */
export function unknownModel(catalog: ConfigCatalog, name: string): string {
  return `unknown model "${name}" (known: ${[...catalog.models.keys()].join(', ')})`;
}

export function unknownDeployment(catalog: ConfigCatalog, name: string): string {
  return `unknown deployment "${name}" (known: ${[...catalog.deployments].join(', ')})`;
}

/** A `match.model`-style field as a list, whether written as one name or many (or broken). */
export function namesIn(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : v === undefined ? [] : [v];
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
