import { SlidingWindow } from './sliding-window.js';

const WINDOW_MS = 10_000;

/**
 * Caps retries at a share of recent requests plus a small floor, so retries cannot turn a
 * struggling upstream's failures into a storm (Finagle's RetryBudget, Envoy's retry_budget).
 */
export class RetryBudget {
  private readonly requests = new SlidingWindow(WINDOW_MS);
  private readonly retries = new SlidingWindow(WINDOW_MS);
  retriesTotal = 0;
  refusedTotal = 0;

  constructor(
    private readonly ratio: number,
    private readonly minPerSecond: number,
  ) {}

  /** Every first attempt deposits. */
  onRequest(now: number): void {
    this.requests.record(false, now);
  }

  /** Takes one retry from the budget if there is one. */
  tryRetry(now: number): boolean {
    const allowed = this.requests.counts(now).total * this.ratio + (this.minPerSecond * WINDOW_MS) / 1000;
    if (this.retries.counts(now).total + 1 > allowed) {
      this.refusedTotal++;
      return false;
    }
    this.retries.record(false, now);
    this.retriesTotal++;
    return true;
  }
}
