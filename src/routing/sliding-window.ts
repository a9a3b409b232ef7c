/**
 * Request and failure counts over the last `windowMs`, in ten buckets: cheap to update on every
 * request, and old failures age out instead of ejecting a deployment that has since recovered.
 */
export class SlidingWindow {
  private static readonly BUCKETS = 10;
  private readonly totals = new Uint32Array(SlidingWindow.BUCKETS);
  private readonly failures = new Uint32Array(SlidingWindow.BUCKETS);
  private readonly bucketMs: number;
  /** Index of the bucket that `now` last fell in, counted from time 0. */
  private epoch = 0;

  constructor(windowMs: number) {
    this.bucketMs = Math.max(1, windowMs / SlidingWindow.BUCKETS);
  }

  record(failed: boolean, now: number): void {
    const i = this.advance(now);
    this.totals[i]!++;
    if (failed) this.failures[i]!++;
  }

  /** Requests and failures within the window ending at `now`. */
  counts(now: number): { total: number; failed: number } {
    this.advance(now);
    let total = 0;
    let failed = 0;
    for (let i = 0; i < SlidingWindow.BUCKETS; i++) {
      total += this.totals[i]!;
      failed += this.failures[i]!;
    }
    return { total, failed };
  }

  reset(): void {
    this.totals.fill(0);
    this.failures.fill(0);
  }

  /** Clears the buckets that time has passed over; returns the current bucket's index. */
  private advance(now: number): number {
    const epoch = Math.floor(now / this.bucketMs);
    const gap = epoch - this.epoch;
    if (gap > 0) {
      for (let k = 1; k <= Math.min(gap, SlidingWindow.BUCKETS); k++) {
        const i = (this.epoch + k) % SlidingWindow.BUCKETS;
        this.totals[i] = 0;
        this.failures[i] = 0;
      }
      this.epoch = epoch;
    }
    return this.epoch % SlidingWindow.BUCKETS;
  }
}
