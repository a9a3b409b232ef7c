import type { Target } from './registry.js';

/** How an upstream attempt ended, as health sees it. */
export type LeaseOutcome = 'success' | 'failure' | 'neutral';

/**
 * One request's hold on one deployment's batch slot, from dispatch until the response ends. It
 * feeds the balancer (outstanding count, time to first byte) and health (success, failure), and
 * is released exactly once, which hands the slot to a waiting request.
 */
export class Lease {
  private released = false;
  private sampled = false;
  /** The one request a half-open deployment lets through: its outcome alone decides. */
  readonly trial: boolean;

  constructor(
    readonly target: Target,
    readonly startedAt: number,
    private readonly onRelease: (lease: Lease, outcome: LeaseOutcome, reason: string, now: number) => void,
    private readonly clock: () => number,
  ) {
    const d = target.deployment;
    d.outstanding++;
    this.trial = d.health.onDispatch();
  }

  get deployment(): Target['deployment'] {
    return this.target.deployment;
  }

  /** The upstream's first response byte: one time-to-first-byte sample, and proof it answers. */
  firstByte(): void {
    if (this.sampled) return;
    this.sampled = true;
    const now = this.clock();
    const d = this.target.deployment;
    d.ttfb.add(now - this.startedAt, now);
    d.lastSuccessAt = now; // it answers: evidence for retries and the prober
    // A half-open trial has proved enough once the model streams: heal now rather than after the
    // whole completion, so a recovering region takes traffic back within one time-to-first-byte.
    if (this.trial) d.health.onSuccess(now, true);
  }

  /**
   * The deadline passed before the first byte: how the attempt ends, as health sees it. The wait
   * is still a time-to-first-byte sample (without it a deployment that never answers would look
   * fast), but silence proves nothing: it is not a success, so the prober still believes its own
   * timeouts and a half-open deployment is not healed by it. A trial that stays silent is the
   * trial failing (a server that accepts and never answers must stay out). Any other request
   * stays neutral: a deadline shorter than the model's prefill says little about the server.
   */
  deadlineBeforeFirstByte(): LeaseOutcome {
    if (this.sampled) return 'neutral';
    this.sampled = true;
    const now = this.clock();
    this.target.deployment.ttfb.add(now - this.startedAt, now);
    return this.trial ? 'failure' : 'neutral';
  }

  release(outcome: LeaseOutcome, reason = ''): void {
    if (this.released) return;
    this.released = true;
    const d = this.target.deployment;
    d.outstanding--;
    this.onRelease(this, outcome, reason, this.clock());
  }

  get isReleased(): boolean {
    return this.released;
  }
}
