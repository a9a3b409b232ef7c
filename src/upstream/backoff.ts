/**
 * Exponential reconnect backoff with jitter: after n consecutive connect failures the next attempt
 * waits base·2^(n-1), capped, scaled by a random factor in [0.5, 1) so a fleet does not reconnect
 * in lockstep. A success resets it.
 */
export class Backoff {
  private failures = 0;
  private retryAt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Records a failed attempt at time `now` and returns the delay before the next one. */
  fail(now: number): number {
    this.failures++;
    const raw = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures - 1, 30));
    const delay = Math.round(raw * (0.5 + this.random() * 0.5));
    this.retryAt = now + delay;
    return delay;
  }

  succeed(): void {
    this.failures = 0;
    this.retryAt = 0;
  }

  /** Milliseconds until an attempt is allowed (0 = now). */
  waitMs(now: number): number {
    return Math.max(0, this.retryAt - now);
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
