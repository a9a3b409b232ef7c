/**
 * A time-decayed moving average: a sample's weight falls by e every `decayMs`, so the value tracks
 * what a deployment does now whatever its request rate. While few samples exist the plain mean is
 * used instead, so one cold-start outlier (a TLS handshake, a first compile) does not stick.
 */
export class Ewma {
  private current: number;
  private samples = 0;
  private lastAt = 0;

  constructor(
    private readonly decayMs: number,
    initial: number,
  ) {
    this.current = initial;
  }

  add(sample: number, now: number): void {
    const n = ++this.samples;
    if (n === 1) this.current = sample;
    else {
      const decay = Math.exp(-Math.max(0, now - this.lastAt) / this.decayMs);
      // (n-1)/n is the running mean's weight: the first few samples count equally.
      const w = n < 1000 ? Math.min(decay, (n - 1) / n) : decay;
      this.current = this.current * w + sample * (1 - w);
    }
    this.lastAt = now;
  }

  get value(): number {
    return this.current;
  }

  get count(): number {
    return this.samples;
  }
}
