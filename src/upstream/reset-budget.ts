/**
 * Mirrors a server's rapid-reset guard for one HTTP/2 session. nghttp2 (Node, Envoy, h2o,
 * nginx's h2 module uses similar limits) lets a client reset about `burst` streams, refilled at
 * `perSecond`, then answers with GOAWAY — and a GOAWAY with an error code kills every stream in
 * flight on that session. A gateway that forwards every editor cancel resets streams far faster
 * than one user would, so the pool tracks the budget and retires a session gracefully while it
 * still has half its budget left.
 */
export class ResetBudget {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  /** Records one reset sent at `nowMs`; true when the session should be retired. */
  spend(nowMs: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) / 1000) * this.perSecond);
    this.lastMs = nowMs;
    this.tokens -= 1;
    return this.tokens < this.burst / 2;
  }
}
