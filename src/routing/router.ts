import { performance } from 'node:perf_hooks';
import type { RoutingConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { CancelSignal } from '../proxy/request-signal.js';
import { affinityPick } from './affinity.js';
import { powerOfTwo } from './balancer.js';
import type { Deployment } from './deployment.js';
import type { HealthChange, HealthState } from './health.js';
import { Lease, type LeaseOutcome } from './lease.js';
import type { Model, Registry, Target } from './registry.js';
import { RetryBudget } from './retry-budget.js';

/** What a routing decision needs to know about the request. */
export interface RouteRequest {
  readonly model: Model;
  /** Affinity key (session + prompt prefix), or undefined. */
  readonly key: number | undefined;
  /** A deployment that already failed this request (a retry goes elsewhere). */
  readonly exclude: Deployment | undefined;
  readonly signal: CancelSignal;
  /** performance.now() time after which the request is worthless. */
  readonly deadlineAt: number;
  /**
   * A retry after a lost connection: deployments in this region count only if they answered
   * since `provenSince` (a region's servers often die together; a sibling that has said nothing
   * since is as likely dead as the one that failed).
   */
  readonly suspectRegion?: string | undefined;
  readonly provenSince?: number;
}

interface Waiter {
  readonly req: RouteRequest;
  readonly resolve: (lease: Lease) => void;
  readonly reject: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  readonly onAbort: () => void;
}

/** Counters for tests and telemetry. */
export interface RouterStats {
  queued: number;
  queuedTotal: number;
  spilledTotal: number;
  panicTotal: number;
  noCapacityTotal: number;
  retriesTotal: number;
  retriesRefusedTotal: number;
  /** Waiters handed a deployment that came back (cool-down over, probe answered), not a released slot. */
  wokenTotal: number;
  health: HealthStats;
}

/** Health changes since start (ghostwire:deployment:health publishes each one as it happens). */
export interface HealthStats {
  /** Over all deployments, by the state entered. */
  transitionsTotal: Record<HealthState, number>;
  /** Per deployment: its state now and its own counts. */
  deployments: Record<
    string,
    { state: HealthState; transitionsTotal: Record<HealthState, number>; ejectionsTotal: number }
  >;
}

/**
 * Picks a deployment for each request. In order: this instance's region (power of two choices by
 * load and time to first byte, or the request's affinity deployment under bounded load); when
 * every local deployment is busy, a short wait in a bounded queue; then the next region in
 * preference order; then 503 GW_NO_CAPACITY. A region with no healthy deployment is skipped at
 * once. If no deployment of a model is healthy anywhere, the request is tried anyway (panic
 * routing, as Envoy does): health checks that are wrong must not take everything down.
 */
export class Router {
  readonly retryBudget: RetryBudget;
  private readonly waiters: Waiter[] = [];
  private queuedTotal = 0;
  private spilledTotal = 0;
  private panicTotal = 0;
  private noCapacityTotal = 0;
  private wokenTotal = 0;
  private closed = false;
  private readonly release = (lease: Lease, outcome: LeaseOutcome, reason: string, now: number): void =>
    this.onRelease(lease, outcome, reason, now);
  /** A wake of the waiters is queued (a microtask: never inside a pick that is under way). */
  private wakePending = false;
  /** Wakes the waiters when the earliest cool-down ends (nothing else would notice it ending). */
  private coolDownTimer: NodeJS.Timeout | undefined;
  private coolDownTimerAt = Infinity;
  private readonly unsubscribe: (() => void)[];

  constructor(
    private readonly registry: Registry,
    private readonly cfg: RoutingConfig,
    private readonly clock: () => number = () => performance.now(),
    private readonly random: () => number = Math.random,
  ) {
    this.retryBudget = new RetryBudget(cfg.retries.budgetRatio, cfg.retries.minPerSecond);
    this.unsubscribe = registry.deployments.map((d) =>
      d.onHealthChange((_d, change) => this.onHealthChange(change)),
    );
  }

  /**
   * A lease on a deployment for this request, at once when one has room (the common case, no
   * promise), else after a wait. Throws or rejects GW_NO_CAPACITY (503, Retry-After) when nothing
   * frees up in time; rejects with the signal's reason if the request is aborted while waiting.
   */
  acquire(req: RouteRequest): Lease | Promise<Lease> {
    if (this.closed) throw new GatewayError('GW_SHUTTING_DOWN');
    const now = this.clock();
    const lease = this.pick(req, false, now);
    if (lease !== undefined) return lease;
    const maxWaitMs = this.cfg.queue.maxWaitMs;
    const leftMs = req.deadlineAt - now;
    if (maxWaitMs > 0 && leftMs > 0 && this.waiters.length < this.cfg.queue.maxWaiting)
      return this.enqueue(req, this.waitMs(req, leftMs, maxWaitMs));
    const spilled = this.pick(req, true, now);
    if (spilled === undefined) throw this.noCapacity();
    return spilled;
  }

  /**
   * How long a request waits for local capacity before it spills over. With another region to
   * spill to, at most half of what is left of its deadline, so the spill still has time to
   * answer; with none, up to the deadline itself, which then ends the wait as a 504 (undefined:
   * no timer of our own).
   */
  private waitMs(req: RouteRequest, leftMs: number, maxWaitMs: number): number | undefined {
    if (req.model.tiers.length > 1) return Math.max(1, Math.min(maxWaitMs, leftMs / 2));
    return leftMs <= maxWaitMs ? undefined : maxWaitMs;
  }

  /**
   * A lease for a retry: only a healthy deployment, in any region, with room right now and a
   * transport that is not failing fast (retries neither queue nor use panic routing: when a
   * region's servers die together, the retry goes to the next region, not to a dead sibling),
   * and only while the retry budget has room.
   */
  acquireForRetry(req: RouteRequest): Lease | undefined {
    const now = this.clock();
    if (this.closed || now >= req.deadlineAt || !this.retryBudget.canRetry(now)) return undefined;
    // If the suspect region has no sibling that answered lately, any reachable one will do.
    let lease = this.pick(req, true, now, true);
    if (lease === undefined && req.suspectRegion !== undefined)
      lease = this.pick({ ...req, suspectRegion: undefined }, true, now, true);
    if (lease !== undefined) this.retryBudget.spend(now);
    return lease;
  }

  /** Deposits one first attempt into the retry budget. */
  countRequest(): void {
    this.retryBudget.onRequest(this.clock());
  }

  /** Whether this instance has healthy capacity in its own region (GET /readyz). */
  readiness(): { ready: boolean; region: string; usable: number; total: number } {
    const now = this.clock();
    const region = this.cfg.region;
    let local = this.registry.serving.filter((d) => d.region === region);
    // An instance with no deployments of its own region is a pure spill-over proxy: judge them all.
    if (local.length === 0) local = [...this.registry.serving];
    const usable = local.filter((d) => d.health.usable(now)).length;
    return { ready: usable > 0, region, usable, total: local.length };
  }

  /**
   * The public URL of the nearest region with healthy capacity, for the token exchange to send
   * clients to. While this instance's own region has capacity, that is this gateway (its own
   * publicUrl, or undefined: the URL the client used). Otherwise the first other region in
   * preference order that has capacity and a publicUrl (one without a URL cannot be named, so
   * the next one is); with none, this gateway again.
   */
  nearestRegionUrl(): string | undefined {
    const now = this.clock();
    const own = this.cfg.regions.find((r) => r.name === this.cfg.region)?.publicUrl;
    for (const region of this.registry.regionOrder) {
      const url =
        region === this.cfg.region ? own : this.cfg.regions.find((r) => r.name === region)?.publicUrl;
      if (region !== this.cfg.region && url === undefined) continue;
      if (this.registry.serving.some((d) => d.region === region && d.health.usable(now))) return url;
    }
    return own;
  }

  stats(): RouterStats {
    return {
      queued: this.waiters.length,
      queuedTotal: this.queuedTotal,
      spilledTotal: this.spilledTotal,
      panicTotal: this.panicTotal,
      noCapacityTotal: this.noCapacityTotal,
      retriesTotal: this.retryBudget.retriesTotal,
      retriesRefusedTotal: this.retryBudget.refusedTotal,
      wokenTotal: this.wokenTotal,
      health: this.healthStats(),
    };
  }

  private healthStats(): HealthStats {
    const transitionsTotal: Record<HealthState, number> = { healthy: 0, ejected: 0, 'half-open': 0, down: 0 };
    const deployments: HealthStats['deployments'] = {};
    for (const d of this.registry.deployments) {
      const h = d.health;
      for (const k of Object.keys(transitionsTotal) as HealthState[])
        transitionsTotal[k] += h.transitionsTotal[k];
      deployments[d.name] = {
        state: h.state,
        transitionsTotal: { ...h.transitionsTotal },
        ejectionsTotal: h.ejectionsTotal,
      };
    }
    return { transitionsTotal, deployments };
  }

  /** Shutdown: rejects every waiting request (503, they may retry elsewhere) and every new one. */
  close(): void {
    this.closed = true;
    for (const off of this.unsubscribe) off();
    this.disarmCoolDownTimer();
    for (const w of this.waiters.splice(0)) {
      if (w.timer !== undefined) clearTimeout(w.timer);
      w.req.signal.removeEventListener('abort', w.onAbort);
      w.reject(new GatewayError('GW_SHUTTING_DOWN'));
    }
  }

  /**
   * One pass over the model's regions. Without `spill`, a local region with healthy deployments
   * that are merely full stops the search (the request waits for it first); with it, every region
   * is tried. A region whose deployments are ejected, down or only half-open is passed at once.
   */
  private pick(req: RouteRequest, spill: boolean, now: number, retry = false): Lease | undefined {
    const tiers = req.model.tiers;
    let anyUsable = false;
    for (let i = 0; i < tiers.length; i++) {
      const target = this.pickInTier(tiers[i] as readonly Target[], req, now, retry);
      if (target !== undefined) {
        if (i > 0) this.spilledTotal++;
        return new Lease(target, now, this.release, this.clock);
      }
      anyUsable ||= this.tierUsable;
      if (i === 0 && this.tierHealthy && !spill) return undefined;
    }
    if (anyUsable || retry) return undefined;
    // Nothing healthy anywhere: try any deployment with room rather than refuse outright.
    const target = this.panicPick(req);
    if (target === undefined) return undefined;
    this.panicTotal++;
    return new Lease(target, now, this.release, this.clock);
  }

  /** Set by pickInTier (no object per call on the hot path): the tier has healthy / usable deployments. */
  private tierHealthy = false;
  private tierUsable = false;

  /** The chosen target in one region, or undefined (then see tierHealthy / tierUsable). */
  private pickInTier(
    tier: readonly Target[],
    req: RouteRequest,
    now: number,
    retry: boolean,
  ): Target | undefined {
    this.tierHealthy = false;
    this.tierUsable = false;
    // One target (the common single-replica region): no array, no draw.
    if (tier.length === 1) {
      const t = tier[0] as Target;
      const d = t.deployment;
      if (d === req.exclude || !d.health.usable(now) || unproven(d, req)) return undefined;
      this.tierUsable = true;
      this.tierHealthy = d.health.healthy;
      return d.eligible(now) && (!retry || d.dispatcher.reachable) ? t : undefined;
    }
    const candidates: Deployment[] = [];
    for (const t of tier) {
      const d = t.deployment;
      if (d === req.exclude || !d.health.usable(now) || unproven(d, req)) continue;
      this.tierUsable = true;
      if (d.health.healthy) this.tierHealthy = true;
      if (d.eligible(now) && (!retry || d.dispatcher.reachable)) candidates.push(d);
    }
    if (candidates.length === 0) return undefined;
    const chosen =
      (req.key === undefined || !this.cfg.affinity.enabled
        ? undefined
        : affinityPick(candidates, req.key, this.cfg.affinity.loadFactor)) ??
      powerOfTwo(candidates, this.random);
    return tier.find((t) => t.deployment === chosen);
  }

  /** Any deployment with room, healthy or not, except a half-open one whose one trial is running. */
  private panicPick(req: RouteRequest): Target | undefined {
    const room = req.model.targets.filter(
      (t) =>
        t.deployment !== req.exclude &&
        t.deployment.outstanding < t.deployment.capacity &&
        !t.deployment.health.trialInProgress,
    );
    const chosen = powerOfTwo(
      room.map((t) => t.deployment),
      this.random,
    );
    return room.find((t) => t.deployment === chosen);
  }

  private enqueue(req: RouteRequest, waitMs: number | undefined): Promise<Lease> {
    this.queuedTotal++;
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        req,
        resolve,
        reject,
        timer: undefined,
        onAbort: () => {
          this.remove(waiter);
          const reason: unknown = req.signal.reason;
          reject(reason instanceof Error ? reason : new GatewayError('GW_CLIENT_CLOSED'));
        },
      };
      if (waitMs !== undefined)
        waiter.timer = setTimeout(() => {
          this.remove(waiter);
          // The wait is over: any region will do now, else no capacity.
          const lease = this.pick(req, true, this.clock());
          if (lease !== undefined) resolve(lease);
          else reject(this.noCapacity());
        }, waitMs);
      req.signal.addEventListener('abort', waiter.onAbort);
      this.waiters.push(waiter);
      this.armCoolDownTimer();
    });
  }

  private remove(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.req.signal.removeEventListener('abort', w.onAbort);
    if (this.waiters.length === 0) this.disarmCoolDownTimer();
  }

  private onRelease(lease: Lease, outcome: LeaseOutcome, reason: string, now: number): void {
    const health = lease.deployment.health;
    if (outcome === 'success') {
      lease.deployment.lastSuccessAt = now;
      health.onSuccess(now, lease.trial);
    } else if (outcome === 'failure') health.onFailure(now, reason, lease.trial);
    else health.onNeutral(lease.trial);
    if (this.waiters.length > 0) this.wake(lease.deployment, now);
  }

  /**
   * Capacity came back without a slot being released: a deployment turned healthy or half-open
   * (a probe answered, a trial healed it), or an ejection began, whose cool-down end nothing else
   * would notice while every request waits. Deferred to a microtask, because a change can happen
   * inside a pick (a cool-down found over) and a pick must not start another.
   */
  private onHealthChange(change: HealthChange): void {
    if (this.waiters.length === 0 || this.closed) return;
    if (change.to === 'ejected') {
      this.armCoolDownTimer();
      return;
    }
    if (change.to === 'down' || this.wakePending) return;
    this.wakePending = true;
    queueMicrotask(() => {
      this.wakePending = false;
      if (this.waiters.length > 0 && !this.closed) this.wake(undefined, this.clock());
    });
  }

  /**
   * Hands capacity to waiters in arrival order. After a release (`released`) one slot is free:
   * the first waiter that can use it gets it; waiters of models that do not use that deployment
   * are skipped without a pick. After a deployment came back (undefined) any number may fit, so
   * every waiter is offered a pick. Either way, once a model's pick fails its other waiters
   * would fail the same way: one failed pick per model, so a full queue costs a scan, not a
   * thousand picks.
   */
  private wake(released: Deployment | undefined, now: number): void {
    let failed: Model[] | undefined;
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i] as Waiter;
      const model = w.req.model;
      if (failed?.includes(model) === true || (released !== undefined && !uses(model, released))) {
        i++;
        continue;
      }
      const next = this.pick(w.req, false, now);
      if (next === undefined) {
        (failed ??= []).push(model);
        i++;
        continue;
      }
      this.remove(w); // removes index i: the next waiter moves into it
      if (released !== undefined) return w.resolve(next);
      this.wokenTotal++;
      w.resolve(next);
    }
    if (released === undefined) this.armCoolDownTimer();
  }

  /** (Re)arms the wake-up for the earliest cool-down that ends while requests wait. */
  private armCoolDownTimer(): void {
    if (this.waiters.length === 0 || this.closed) return;
    // Only ends still to come: one already past that no pick looked at concerns no waiter (a
    // pick would have found it), and counting it would spin the timer at 0 ms.
    const now = this.clock();
    let at = Infinity;
    for (const d of this.registry.deployments) {
      const end = d.health.coolDownEndsAt;
      if (end !== undefined && end > now && end < at) at = end;
    }
    if (at === Infinity || at >= this.coolDownTimerAt) return;
    this.disarmCoolDownTimer();
    this.coolDownTimerAt = at;
    this.coolDownTimer = setTimeout(() => {
      this.coolDownTimer = undefined;
      this.coolDownTimerAt = Infinity;
      if (this.waiters.length > 0 && !this.closed) this.wake(undefined, this.clock());
    }, at - now);
    this.coolDownTimer.unref();
  }

  private disarmCoolDownTimer(): void {
    if (this.coolDownTimer !== undefined) clearTimeout(this.coolDownTimer);
    this.coolDownTimer = undefined;
    this.coolDownTimerAt = Infinity;
  }

  private noCapacity(): GatewayError {
    this.noCapacityTotal++;
    return new GatewayError('GW_NO_CAPACITY', {
      detail: 'Every deployment of this model is at its batch capacity.',
      retryAfterS: 1,
    });
  }
}

/** Does the model route to this deployment? (A handful of targets: a scan beats a set.) */
function uses(model: Model, d: Deployment): boolean {
  for (const t of model.targets) if (t.deployment === d) return true;
  return false;
}

/** A deployment in the suspect region that has not answered since the failure began. */
function unproven(d: Deployment, req: RouteRequest): boolean {
  return req.suspectRegion === d.region && d.lastSuccessAt < (req.provenSince ?? 0);
}
