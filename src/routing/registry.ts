import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { UpstreamTarget } from '../protocol/upstream/index.js';
import { modelFieldBytes } from '../protocol/upstream/openai.js';
import { transportOf } from '../upstream/endpoint.js';
import { loadHttp1Transport, type Http1TransportClass } from '../upstream/transports.js';
import { Deployment } from './deployment.js';

/** A model as clients name it, with the deployments that serve it and the upstream path on each. */
export interface Model {
  readonly name: string;
  readonly upstreamModel: string;
  readonly targets: readonly Target[];
  /** The targets grouped by region in preference order: this instance's region first. */
  readonly tiers: readonly (readonly Target[])[];
}

/** A deployment as used for one model: what its adapter needs, and the path, fixed at load. */
export interface Target {
  readonly deployment: Deployment;
  readonly path: string;
  readonly upstream: UpstreamTarget;
}

/**
 * A model on a deployment. The URL's path prefix is kept (each adapter assumes its server's usual
 * prefix when there is none), so both `http://host:8000` and `https://api.example.com/v1` work.
 */
export function targetOf(deployment: Deployment, upstreamModel: string): Target {
  const upstream: UpstreamTarget = {
    basePath: deployment.endpoint.basePath,
    upstreamModel,
    modelField: modelFieldBytes(upstreamModel),
    fimTemplate: deployment.fimTemplate,
    azure:
      deployment.azure === undefined
        ? undefined
        : {
            deployment: deployment.azure.deployment ?? upstreamModel,
            apiVersion: deployment.azure.apiVersion,
          },
  };
  return { deployment, path: deployment.adapter.path(upstream), upstream };
}

/** How many distinct client-chosen names a wildcard model remembers before it stops caching. */
const WILDCARD_CACHE = 1024;

/**
 * Names → models → deployments, built once from config. A model named `*` catches every name not
 * configured otherwise and sends the client's name upstream (unless it sets upstreamModel).
 */
export class Registry {
  private readonly byName = new Map<string, Model>();
  private readonly wildcardNames = new Map<string, Model>();
  private wildcard: { upstreamModel: string | undefined; deployments: Deployment[] } | undefined;
  readonly deployments: readonly Deployment[];
  /** The deployments some model routes to (not a shadow deployment that only receives mirrored traffic). */
  readonly serving: readonly Deployment[];
  /** Region names in preference order: this instance's own, then routing.regions, then the rest. */
  readonly regionOrder: readonly string[];

  /**
   * Builds the registry, loading the HTTP/1.1 transport only if some deployment needs it. With
   * `previous` (a reload), every deployment whose fingerprint is unchanged is taken over as it
   * is: its connections stay open and its load and health carry on.
   */
  static async create(cfg: GatewayConfig, previous?: Registry): Promise<Registry> {
    const needsHttp1 = cfg.deployments.some((d) => transportOf(d) === 'h1');
    return new Registry(cfg, needsHttp1 ? await loadHttp1Transport() : undefined, previous);
  }

  /** `http1` is needed when a deployment speaks HTTP/1.1: use Registry.create, which loads it. */
  constructor(cfg: GatewayConfig, http1?: Http1TransportClass, previous?: Registry) {
    const kept = new Map(previous?.deployments.map((d) => [d.fingerprint, d]));
    // Fingerprints first: a secret that cannot be read throws here, before anything is opened.
    const prints = cfg.deployments.map((d, i) => Deployment.fingerprint(d, i, cfg.routing));
    this.deployments = cfg.deployments.map((d, i) =>
      (kept.get(prints[i] as string) ?? new Deployment(d, i, cfg.routing, http1)).hold(),
    );
    this.regionOrder = [
      ...new Set([
        cfg.routing.region,
        ...cfg.routing.regions.map((r) => r.name),
        ...this.deployments.map((d) => d.region),
      ]),
    ];
    const byDeployment = new Map(this.deployments.map((d) => [d.name, d]));
    for (const m of cfg.models) {
      if (m.name === '*') {
        this.wildcard = {
          upstreamModel: m.upstreamModel,
          deployments: m.deployments.map((name) => byDeployment.get(name) as Deployment),
        };
        continue;
      }
      const upstreamModel = m.upstreamModel ?? m.name;
      const targets = m.deployments.map((name) => {
        const deployment = byDeployment.get(name);
        if (deployment === undefined) throw new Error(`model ${m.name}: unknown deployment ${name}`);
        return targetOf(deployment, upstreamModel);
      });
      const model: Model = { name: m.name, upstreamModel, targets, tiers: this.tiers(targets) };
      for (const n of [m.name, ...m.aliases]) this.byName.set(n, model);
    }
    const serving = new Set(cfg.models.flatMap((m) => m.deployments));
    this.serving = this.deployments.filter((d) => serving.has(d.name));
  }

  /** Every configured model, once each (not the wildcard): policy builds per-model views from them at load. */
  models(): Model[] {
    return [...new Set(this.byName.values())];
  }

  /** The deployment of that name, if configured. */
  deployment(name: string): Deployment | undefined {
    return this.deployments.find((d) => d.name === name);
  }

  /**
   * The model served only by the named deployments of it (its own Target objects, in its order):
   * routing, retries and affinity then choose among those alone. Built once, at load, by policy
   * that restricts deployments (experiments). Throws if a name is not a deployment of the model.
   */
  view(model: Model, deployments: readonly string[]): Model {
    const targets = model.targets.filter((t) => deployments.includes(t.deployment.name));
    if (targets.length !== deployments.length)
      throw new Error(`model ${model.name}: not all of ${deployments.join(', ')} serve it`);
    return { name: model.name, upstreamModel: model.upstreamModel, targets, tiers: this.tiers(targets) };
  }

  /** The model for a client-supplied name, or GW_UNKNOWN_MODEL listing the names that exist. */
  resolve(name: string | undefined): Model {
    const model = name === undefined ? undefined : (this.byName.get(name) ?? this.viaWildcard(name));
    if (model === undefined) {
      throw new GatewayError('GW_UNKNOWN_MODEL', {
        detail: `Known models: ${[...this.byName.keys()].join(', ')}.`,
      });
    }
    return model;
  }

  private viaWildcard(name: string): Model | undefined {
    const wc = this.wildcard;
    if (wc === undefined || name.length === 0 || name.length > 256) return undefined;
    const cached = this.wildcardNames.get(name);
    if (cached !== undefined) return cached;
    const upstreamModel = wc.upstreamModel ?? name;
    const targets = wc.deployments.map((deployment) => targetOf(deployment, upstreamModel));
    const model: Model = { name, upstreamModel, targets, tiers: this.tiers(targets) };
    if (this.wildcardNames.size < WILDCARD_CACHE) this.wildcardNames.set(name, model);
    return model;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Targets grouped by region, in preference order; regions without a target are left out. */
  private tiers(targets: readonly Target[]): Target[][] {
    return this.regionOrder
      .map((region) => targets.filter((t) => t.deployment.region === region))
      .filter((tier) => tier.length > 0);
  }

  /** Lets go of its deployments: those no newer registry took over close gracefully. */
  async close(): Promise<void> {
    await Promise.all(this.deployments.map((d) => d.drop()));
  }

  /** Lets go of its deployments, closing those no newer registry took over at once. */
  destroy(): void {
    for (const d of this.deployments) void d.drop(true);
  }
}
