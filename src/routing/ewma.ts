/**
 * A time-decayed moving average: a sample's weight falls by e every `decayMs`, so the value tracks
 * what a deployment does now whatever its request rate. While few samples exist the plain mean is
 * used instead, so one cold-start outlier (a TLS handshake, a first compile) does not stick.
 * Without new samples the value drifts back to the prior, also over `decayMs`: a deployment that
 * once looked terribly slow (a deadline hit while it was down) and so gets no traffic would
 * otherwise keep that value, and lose every comparison, forever.
 */
export class Ewma {
  private current: number;
  private samples = 0;
  private lastAt = 0;

  constructor(
    private readonly decayMs: number,
    private readonly prior: number,
  ) {
    this.current = prior;
  }

  add(sample: number, now: number): void {
    const n = ++this.samples;
    if (n === 1) this.current = sample;
    else {
      const decay = Math.exp(-Math.max(0, now - this.lastAt) / this.decayMs);
      // (n-1)/n is the running mean's weight: the first few samples count equally.
      const w = n < 1000 ? Math.min(decay, (n - 1) / n) : decay;
      this.current = this.idleValue(decay) * w + sample * (1 - w);
    }
    this.lastAt = now;
  }

  /** The average as of `now`, drifted toward the prior for the time since the last sample. */
  valueAt(now: number): number {
    if (this.samples === 0) return this.prior;
    const idle = now - this.lastAt;
    return idle <= 0 ? this.current : this.idleValue(Math.exp(-idle / this.decayMs));
  }

  /** The last value pulled toward the prior by `decay` (the weight the last value keeps). */
  private idleValue(decay: number): number {
    return this.prior + (this.current - this.prior) * decay;
  }

  /** The average as of the last sample. */
  get value(): number {
    return this.current;
  }

  get count(): number {
    return this.samples;
  }
}
