import type { RoutingConfig } from '../config/schema.js';
import { SlidingWindow } from './sliding-window.js';

/**
 * healthy: takes traffic. ejected: failed on real traffic, out for a cool-down. half-open: the
 * cool-down is over (or a probe answered), one trial request at a time decides. down: the active
 * probe fails, whatever the traffic says.
 */
export type HealthState = 'healthy' | 'ejected' | 'half-open' | 'down';

export interface HealthChange {
  from: HealthState;
  to: HealthState;
  reason: string;
}

type PassiveConfig = RoutingConfig['health']['passive'];
type ActiveConfig = RoutingConfig['health']['active'];

/**
 * One deployment's health: outlier detection on real requests (consecutive failures or a failure
 * rate eject it for a cool-down that doubles on each repeat, then one trial request at a time),
 * combined with an active probe that can hold it down or, by answering, shorten a cool-down.
 * Time is passed in, so every decision is testable with fixed inputs.
 */
export class DeploymentHealth {
  private passive: 'healthy' | 'ejected' | 'half-open' = 'healthy';
  private probeDown = false;
  private consecutiveFailures = 0;
  private readonly window: SlidingWindow;
  private ejectedUntil = 0;
  /** Ejections in a row without a stretch of health in between: the cool-down multiplier. */
  private ejectionStreak = 0;
  private recoveredAt = 0;
  private trialInFlight = false;
  private probeFailures = 0;
  private probeSuccesses = 0;
  /** Counters, for telemetry. */
  ejectionsTotal = 0;
  /** Every change of state since start, by the state entered (see emit). */
  readonly transitionsTotal: Record<HealthState, number> = {
    healthy: 0,
    ejected: 0,
    'half-open': 0,
    down: 0,
  };

  constructor(
    private readonly passiveCfg: PassiveConfig,
    private readonly activeCfg: Pick<ActiveConfig, 'unhealthyThreshold' | 'healthyThreshold'>,
    private readonly onChange: (change: HealthChange) => void = () => {},
  ) {
    this.window = new SlidingWindow(passiveCfg.windowMs);
  }

  get state(): HealthState {
    return this.probeDown ? 'down' : this.passive;
  }

  /** May a request be sent now? A half-open deployment takes one trial at a time. */
  available(now: number): boolean {
    if (this.probeDown) return false;
    if (this.passive === 'ejected') {
      if (now < this.ejectedUntil) return false;
      this.set('half-open', 'cool-down over');
    }
    return this.passive === 'healthy' || !this.trialInFlight;
  }

  /** Fully healthy: a region of these that is full is worth waiting for. */
  get healthy(): boolean {
    return this.passive === 'healthy' && !this.probeDown;
  }

  /** Half-open with its one trial still running: nothing else may be sent, not even in a panic. */
  get trialInProgress(): boolean {
    return this.passive === 'half-open' && this.trialInFlight;
  }

  /** When an ejection's cool-down ends (on the clock passed in), or undefined when not ejected. */
  get coolDownEndsAt(): number | undefined {
    return this.passive === 'ejected' ? this.ejectedUntil : undefined;
  }

  /** Counts as capacity for readiness: healthy, or due a trial. */
  usable(now: number): boolean {
    if (this.probeDown) return false;
    return this.passive !== 'ejected' || now >= this.ejectedUntil;
  }

  /**
   * A request was sent (after available() said yes). Returns true when it is the half-open trial:
   * only the trial's own outcome decides, not that of requests sent before the ejection.
   */
  onDispatch(): boolean {
    // A request sent past available() (panic routing) while the trial runs is not a second trial.
    if (this.passive !== 'half-open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  onSuccess(now: number, trial = false): void {
    this.consecutiveFailures = 0;
    this.window.record(false, now);
    if (trial && this.passive === 'half-open') {
      this.trialInFlight = false;
      this.recoveredAt = now;
      this.window.reset();
      this.set('healthy', 'trial request succeeded');
    }
  }

  onFailure(now: number, reason: string, trial = false): void {
    this.window.record(true, now);
    this.consecutiveFailures++;
    if (this.passive === 'half-open') {
      if (trial) this.eject(now, `trial request failed (${reason})`);
      return;
    }
    if (this.passive !== 'healthy') return;
    const cfg = this.passiveCfg;
    if (this.consecutiveFailures >= cfg.consecutiveFailures) {
      this.eject(now, `${this.consecutiveFailures} consecutive failures (${reason})`);
      return;
    }
    const { total, failed } = this.window.counts(now);
    if (total >= cfg.minRequests && failed / total >= cfg.failureRate)
      this.eject(now, `${failed} of ${total} requests failed (${reason})`);
  }

  /** The request ended without telling us anything (the client cancelled): a trial slot frees up. */
  onNeutral(trial = false): void {
    if (trial && this.passive === 'half-open') this.trialInFlight = false;
  }

  onProbe(ok: boolean, now: number, reason = ''): void {
    if (ok) {
      const wasFailing = this.probeFailures > 0 || this.probeDown;
      this.probeFailures = 0;
      this.probeSuccesses++;
      if (this.probeDown && this.probeSuccesses >= this.activeCfg.healthyThreshold) {
        const from = this.state;
        this.probeDown = false;
        this.emit(from, 'probe answered');
      }
      // The server answers again after the probe had lost it: try real traffic now rather than
      // wait out a long cool-down. (An ejection for bad answers, with the probe fine all along,
      // keeps its cool-down: the probe knows nothing new.)
      if (wasFailing && this.passive === 'ejected' && now < this.ejectedUntil) {
        this.ejectedUntil = now;
        this.set('half-open', 'probe answered during cool-down');
      }
      return;
    }
    this.probeSuccesses = 0;
    this.probeFailures++;
    if (!this.probeDown && this.probeFailures >= this.activeCfg.unhealthyThreshold) {
      const from = this.state;
      this.probeDown = true;
      this.emit(from, `probe failed ${this.probeFailures}× (${reason})`);
    }
  }

  /** True after a failed probe that has not yet reached the threshold: re-check soon. */
  get probeSuspect(): boolean {
    return this.probeFailures > 0 && !this.probeDown;
  }

  private eject(now: number, reason: string): void {
    const cfg = this.passiveCfg;
    // A deployment that stayed healthy for a full max cool-down starts its streak afresh.
    if (this.recoveredAt > 0 && now - this.recoveredAt > cfg.maxEjectionMs) this.ejectionStreak = 0;
    this.ejectionStreak++;
    this.ejectionsTotal++;
    const ms = Math.min(cfg.maxEjectionMs, cfg.baseEjectionMs * 2 ** Math.min(this.ejectionStreak - 1, 30));
    this.ejectedUntil = now + ms;
    this.consecutiveFailures = 0;
    this.trialInFlight = false;
    this.window.reset();
    this.set('ejected', `${reason}; out for ${ms} ms`);
  }

  private set(to: 'healthy' | 'ejected' | 'half-open', reason: string): void {
    if (this.passive === to) return;
    const from = this.state;
    this.passive = to;
    this.emit(from, reason);
  }

  private emit(from: HealthState, reason: string): void {
    const to = this.state;
    if (from === to) return;
    this.transitionsTotal[to]++;
    this.onChange({ from, to, reason });
  }
}
