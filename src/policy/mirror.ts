import type { RequestContext } from '../proxy/context.js';
import type { ClientProtocolName } from '../protocol/client/protocol.js';
import type { CompletionRequest } from '../protocol/model.js';
import type { Deployment } from '../routing/deployment.js';
import { targetOf, type Model, type Target } from '../routing/registry.js';
import type { Enrollment } from './experiments.js';
import type { MirrorConfig } from './mirror-schema.js';
import { RequestMatcher } from './request-match.js';
import { MirrorCounters, Shadow, SHADOW_HEADER, type MirrorStats } from './shadow.js';

/** What mirroring needs from the model registry (routing/registry.ts), at load only. */
export interface DeploymentCatalog {
  resolve(name: string): Model;
  deployment(name: string): Deployment | undefined;
}

/** Upstream model names a mirror keeps a target for; beyond that (wildcard models) one is built per request. */
const TARGET_CACHE = 256;

/** One shadow deployment and the requests it gets a sample of. */
class Mirror {
  readonly counters: MirrorCounters;
  readonly matcher: RequestMatcher;
  /** `experiment=arm` keys the request must be in one of (match.arms); undefined: any request. */
  readonly arms: readonly string[] | undefined;
  readonly #targets = new Map<string, Target>();

  constructor(
    readonly cfg: MirrorConfig,
    readonly deployment: Deployment,
    catalog: DeploymentCatalog,
    counters: MirrorCounters | undefined,
  ) {
    this.counters = counters ?? new MirrorCounters(deployment.name);
    this.matcher = new RequestMatcher(cfg.match, (n) => catalog.resolve(n).name);
    this.arms = cfg.match?.arms;
  }

  /** Whether a request in these experiment arms is one this mirror takes. */
  inArms(enrolled: Enrollment | undefined): boolean {
    const arms = this.arms;
    if (arms === undefined) return true;
    if (enrolled === undefined) return false;
    for (const key of arms) if (enrolled.has(key)) return true;
    return false;
  }

  /** The shadow's target for a request that went to `model`: its path and upstream model name. */
  targetFor(model: Model): Target {
    const name = this.cfg.upstreamModel ?? model.upstreamModel;
    let t = this.#targets.get(name);
    if (t === undefined) {
      t = targetOf(this.deployment, name);
      if (this.#targets.size < TARGET_CACHE) this.#targets.set(name, t);
    }
    return t;
  }
}

/**
 * `policy.mirrors`, built once per config: a sample of requests is also sent to a shadow
 * deployment once the primary has been sent (never before, so it never delays it), over the
 * shadow deployment's own connections. The shadow's answer is read and dropped; its latency and
 * errors are counted per deployment (stats(), and the ghostwire:mirror:end channel). Shadow
 * requests bypass everything else: no routing, retries, rate limits or mirroring of their own.
 */
export class Mirrors {
  readonly #list: readonly Mirror[];

  /**
   * With `previous` (a reload), a shadow deployment kept in the new config keeps its counters:
   * its totals run on, and shadows still in flight from the old config count against the new
   * one's maxInFlight, so a reload cannot double what a slow shadow holds.
   */
  constructor(
    cfg: readonly MirrorConfig[],
    catalog: DeploymentCatalog,
    previous?: Mirrors,
    private readonly random: () => number = Math.random,
  ) {
    this.#list = cfg
      .filter((m) => m.sample > 0)
      .map((m) => {
        const d = catalog.deployment(m.deployment);
        if (d === undefined) throw new Error(`mirror: unknown deployment ${m.deployment}`);
        return new Mirror(
          m,
          d,
          catalog,
          previous === undefined ? undefined : previous.#counters(m.deployment),
        );
      });
  }

  #counters(deployment: string): MirrorCounters | undefined {
    return this.#list.find((m) => m.deployment.name === deployment)?.counters;
  }

  get enabled(): boolean {
    return this.#list.length > 0;
  }

  /**
   * Call right after the primary request was dispatched: picks the shadows this request goes to
   * and sends each on the next turn of the event loop, after the primary's frames are written.
   * A request that is itself a shadow (another gateway's) is never mirrored again.
   */
  mirror(
    client: { header(name: string): string | undefined },
    ctx: RequestContext,
    req: CompletionRequest,
    model: Model,
    protocol: ClientProtocolName,
  ): void {
    if (client.header(SHADOW_HEADER) !== undefined) return;
    for (const m of this.#list) {
      if (!m.matcher.matches(model.name, protocol) || !m.inArms(ctx.experiments)) continue;
      if (m.cfg.sample < 1 && this.random() >= m.cfg.sample) continue;
      m.counters.stats.sampledTotal++;
      setImmediate(sendShadow, m, ctx, req, model);
    }
  }

  /** Per shadow deployment, a copy of its counters. */
  stats(): Record<string, MirrorStats> {
    const out: Record<string, MirrorStats> = {};
    for (const m of this.#list) out[m.deployment.name] = structuredClone(m.counters.stats);
    return out;
  }
}

/** Sends one shadow, unless the primary is already gone or the shadow is full; never throws. */
function sendShadow(m: Mirror, ctx: RequestContext, req: CompletionRequest, model: Model): void {
  const stats = m.counters.stats;
  const adapter = m.deployment.adapter;
  // A shadow of more choices than its server answers in one request would need a fan-out: not worth it.
  if (ctx.signal.aborted || stats.inFlight >= m.cfg.maxInFlight || req.n > adapter.maxChoices) {
    stats.droppedTotal++;
    return;
  }
  let target: Target;
  let body: Buffer;
  try {
    target = m.targetFor(model);
    body = adapter.body(req, target.upstream, false);
  } catch {
    stats.droppedTotal++;
    return;
  }
  new Shadow(m.counters, ctx).send(target, body);
}
