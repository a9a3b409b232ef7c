import type { RequestContext } from '../proxy/context.js';
import type { ClientProtocolName } from '../protocol/client/protocol.js';
import type { CompletionRequest } from '../protocol/model.js';
import { fnv1a, mix32 } from '../routing/affinity.js';
import type { Model } from '../routing/registry.js';
import type { ArmConfig, ArmParams, ExperimentConfig } from './experiments-schema.js';
import { withParams, type RequestParams } from './request-edit.js';
import { RequestMatcher } from './request-match.js';

/** The response header naming a request's arms: `x-ghostwire-experiment: exp1=armA, exp2=armB`. */
export const EXPERIMENT_HEADER = 'x-ghostwire-experiment';

/** One experiment's arm for one request, as telemetry and the response header name it. */
export interface ExperimentArm {
  readonly experiment: string;
  readonly arm: string;
}

/** What experiments need from the model registry (routing/registry.ts), at load only. */
export interface ModelCatalog {
  /** The model for a configured name or alias. */
  resolve(name: string): Model;
  /** The model restricted to some of its deployments. */
  view(model: Model, deployments: readonly string[]): Model;
  /** Every configured model (not the wildcard). */
  models(): readonly Model[];
}

/** Combinations of arms remembered with their header and merged parameters; more are built per request. */
const ENROLLMENT_CACHE = 4096;
/** Of a long user id, the first characters are enough to tell users apart. */
const UNIT_CHARS = 256;
const FNV_PRIME = 0x01000193;
const TWO_32 = 4294967296;

/**
 * A user's place in one experiment, in [0, 1): a hash of the user id and the experiment's name,
 * so it is the same on every gateway instance and after every reload, and independent between
 * experiments. `unitHash` is `unitHashOf(user)`.
 */
export function bucketOf(unitHash: number, experiment: string): number {
  // fnv1a(user + "\0" + experiment), then a finaliser so that every bit of it moves the bucket.
  return mix32(fnv1a(experiment, Math.imul(unitHash, FNV_PRIME) >>> 0)) / TWO_32;
}

/** The first half of the experiment hash: one pass over the user id per request, shared by every experiment. */
export function unitHashOf(unit: string): number {
  return fnv1a(unit, 0x811c9dc5, UNIT_CHARS);
}

/** One arm, with what it changes resolved at load: no lookup by name on the request path. */
class Arm {
  readonly choice: ExperimentArm;
  /** Whether the arm's experiment is in the metric label (its metricLabel). */
  readonly labelled: boolean;
  /** The arm's own model (restricted to its deployments), when it names one. */
  readonly model: Model | undefined;
  /**
   * An arm naming deployments but no model: the restricted view of each model the experiment
   * matches, or (no match on models) of each model those deployments all serve; other models pass.
   */
  readonly views: ReadonlyMap<string, Model> | undefined;
  readonly params: RequestParams | undefined;

  constructor(
    experiment: string,
    labelled: boolean,
    cfg: ArmConfig,
    matched: ReadonlySet<string> | undefined,
    catalog: ModelCatalog,
  ) {
    this.choice = Object.freeze({ experiment, arm: cfg.name });
    this.labelled = labelled;
    const deployments = cfg.deployments;
    if (cfg.model !== undefined) {
      const model = catalog.resolve(cfg.model);
      this.model = deployments === undefined ? model : catalog.view(model, deployments);
    } else if (deployments !== undefined) {
      // The config checks guarantee that every matched model is served by all of them.
      const models =
        matched !== undefined
          ? [...matched].map((name) => catalog.resolve(name))
          : catalog
              .models()
              .filter((m) => deployments.every((d) => m.targets.some((t) => t.deployment.name === d)));
      this.views = new Map(models.map((m) => [m.name, catalog.view(m, deployments)]));
    }
    this.params = cfg.params === undefined ? undefined : paramsOf(cfg.params);
  }

  /** Where a request for `model` goes in this arm. */
  route(model: Model): Model {
    return this.model ?? this.views?.get(model.name) ?? model;
  }
}

/** One experiment: who it applies to, its arms, and their cumulative shares. */
class Experiment {
  readonly name: string;
  readonly matcher: RequestMatcher;
  readonly arms: readonly Arm[];
  /** bounds[k]: the upper end of arm k's share of [0, 1); the last is Infinity, so a search always ends. */
  readonly #bounds: Float64Array;

  constructor(cfg: ExperimentConfig, catalog: ModelCatalog) {
    this.name = cfg.name;
    this.matcher = new RequestMatcher(cfg.match, (n) => catalog.resolve(n).name);
    this.arms = cfg.arms.map((a) => new Arm(cfg.name, cfg.metricLabel, a, this.matcher.models, catalog));
    const total = cfg.arms.reduce((sum, a) => sum + a.weight, 0);
    this.#bounds = new Float64Array(cfg.arms.length);
    let sum = 0;
    cfg.arms.forEach((a, k) => {
      sum += a.weight;
      this.#bounds[k] = k === cfg.arms.length - 1 ? Infinity : sum / total;
    });
  }

  /** The index of the arm a user (by unitHashOf) is in. */
  armIndex(unitHash: number): number {
    const u = bucketOf(unitHash, this.name);
    const bounds = this.#bounds;
    let k = 0;
    while (u >= (bounds[k] as number)) k++;
    return k;
  }
}

/**
 * The arms one request is in, across all experiments, with what they change: built once per
 * combination of arms and shared by every request with that combination.
 */
export class Enrollment {
  /** In config order: what `ctx.experiments` carries to telemetry. */
  readonly arms: readonly ExperimentArm[];
  /** The x-ghostwire-experiment value. */
  readonly header: string;
  /**
   * The `experiment` metric label: the arms of experiments with metricLabel on, as in the header
   * (`exp=arm, ...`); '' when none. Its values are bounded by config (MAX_LABEL_VALUES).
   */
  readonly label: string;
  /** The arms' parameters merged, a later experiment's field winning; undefined when none sets any. */
  readonly params: RequestParams | undefined;
  readonly #steps: readonly Arm[];
  /** `experiment=arm` of each arm, for policy that applies to some arms (mirrors' match.arms). */
  readonly #keys: ReadonlySet<string>;

  constructor(steps: readonly Arm[]) {
    this.#steps = steps;
    this.arms = Object.freeze(steps.map((s) => s.choice));
    this.#keys = new Set(this.arms.map((a) => `${a.experiment}=${a.arm}`));
    this.header = [...this.#keys].join(', ');
    this.label = steps
      .filter((s) => s.labelled)
      .map((s) => `${s.choice.experiment}=${s.choice.arm}`)
      .join(', ');
    const withParams = steps.filter((s) => s.params !== undefined);
    this.params =
      withParams.length === 0
        ? undefined
        : Object.freeze(Object.assign({}, ...withParams.map((s) => s.params)) as RequestParams);
  }

  /** Whether the request is in the arm `experiment=arm`. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Where a request for `model` goes: each arm in turn may change the model or its deployments. */
  route(model: Model): Model {
    for (const step of this.#steps) model = step.route(model);
    return model;
  }

  /**
   * The request as its arms have it: recorded on the context (for every metric and log line),
   * named in the response header, sent to the arms' model and deployments with their parameters.
   */
  apply(
    client: { addResponseHeader(name: string, value: string): void },
    ctx: RequestContext,
    req: CompletionRequest,
    model: Model,
  ): { req: CompletionRequest; model: Model } {
    ctx.experiments = this;
    client.addResponseHeader(EXPERIMENT_HEADER, this.header);
    return {
      req: this.params === undefined ? req : withParams(req, this.params),
      model: this.route(model),
    };
  }
}

/**
 * `policy.experiments`, built once per config. A request's user falls in one arm of each
 * experiment that matches it (by a hash: sticky, the same on every instance), and the arm may
 * send it to another model, to some of a model's deployments, or with other sampling
 * parameters. Experiments apply in config order; each matches the request as the experiments
 * before it left it. Per request: one hash of the user id, then per experiment a hash of its
 * name, a match and a walk of the cumulative weights; the enrollment itself comes from a cache.
 */
export class Experiments {
  readonly #list: readonly Experiment[];
  readonly #cache = new Map<number, Enrollment>();
  /** radix[i]: the place value of experiment i in a combination number (0 there: not in it). */
  readonly #radix: readonly number[];
  /** False when there are too many combinations to number exactly: each request builds its own. */
  readonly #numbered: boolean;

  constructor(cfg: readonly ExperimentConfig[], catalog: ModelCatalog) {
    this.#list = cfg.filter((e) => e.enabled).map((e) => new Experiment(e, catalog));
    let place = 1;
    this.#radix = this.#list.map((e) => {
      const r = place;
      place *= e.arms.length + 1;
      return r;
    });
    this.#numbered = place <= Number.MAX_SAFE_INTEGER;
  }

  get enabled(): boolean {
    return this.#list.length > 0;
  }

  /**
   * The arms `unit` (the user id; see docs/policy.md for requests without one) is in for a
   * request to `model` over `protocol`, or undefined when it is in none.
   */
  assign(unit: string | undefined, model: Model, protocol: ClientProtocolName): Enrollment | undefined {
    if (unit === undefined || unit.length === 0 || this.#list.length === 0) return undefined;
    const unitHash = unitHashOf(unit);
    let combination = 0;
    let steps: Arm[] | undefined;
    for (let i = 0; i < this.#list.length; i++) {
      const e = this.#list[i] as Experiment;
      if (!e.matcher.matches(model.name, protocol)) continue;
      const k = e.armIndex(unitHash);
      const arm = e.arms[k] as Arm;
      combination += (k + 1) * (this.#radix[i] as number);
      if (!this.#numbered) (steps ??= []).push(arm);
      model = arm.route(model);
    }
    if (!this.#numbered) return steps === undefined ? undefined : new Enrollment(steps);
    if (combination === 0) return undefined;
    return this.#cache.get(combination) ?? this.#enrollment(combination);
  }

  /** Builds (and remembers, while the cache has room) the enrollment of one combination of arms. */
  #enrollment(combination: number): Enrollment {
    const steps: Arm[] = [];
    for (let i = 0; i < this.#list.length; i++) {
      const e = this.#list[i] as Experiment;
      const k = Math.floor(combination / (this.#radix[i] as number)) % (e.arms.length + 1);
      if (k > 0) steps.push(e.arms[k - 1] as Arm);
    }
    const enrollment = new Enrollment(steps);
    if (this.#cache.size < ENROLLMENT_CACHE) this.#cache.set(combination, enrollment);
    return enrollment;
  }
}

/** An arm's params in the request's own terms. */
function paramsOf(p: ArmParams): RequestParams {
  const out: { maxTokens?: number; temperature?: number; topP?: number; stop?: readonly string[] } = {};
  if (p.max_tokens !== undefined) out.maxTokens = p.max_tokens;
  if (p.temperature !== undefined) out.temperature = p.temperature;
  if (p.top_p !== undefined) out.topP = p.top_p;
  if (p.stop !== undefined) out.stop = typeof p.stop === 'string' ? [p.stop] : p.stop;
  return Object.freeze(out);
}
