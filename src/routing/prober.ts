import { performance } from 'node:perf_hooks';
import type { RoutingConfig } from '../config/schema.js';
import type { GatewayError } from '../errors/gateway-error.js';
import { RequestSignal } from '../proxy/request-signal.js';
import type { UpstreamHandler } from '../upstream/dispatcher.js';
import type { Deployment } from './deployment.js';

type ActiveConfig = RoutingConfig['health']['active'];

/**
 * The active health check: a GET to each deployment's probe path every intervalMs over the same
 * pool that carries its completions, so the probe sees what requests would see. A failed probe is
 * re-checked after a quarter of the interval, so a dead deployment is marked down within about
 * 1.25 intervals without one lost packet being enough.
 */
export class Prober {
  private readonly timers = new Map<Deployment, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly deployments: readonly Deployment[],
    private readonly cfg: ActiveConfig,
  ) {}

  start(): void {
    for (const d of this.deployments) {
      if (d.probePath === undefined) continue;
      // Spread the first probes over the interval so they do not all fire together.
      this.schedule(d, Math.floor(Math.random() * this.cfg.intervalMs));
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(d: Deployment, ms: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => void this.check(d), ms);
    timer.unref();
    this.timers.set(d, timer);
  }

  /** One probe and its verdict. Whatever happens in between, the next probe is scheduled. */
  private async check(d: Deployment): Promise<void> {
    let nextMs = this.cfg.intervalMs;
    try {
      const sentAt = performance.now();
      const { ok, reason, timedOut } = await probe(d, d.probePath as string, this.cfg.timeoutMs);
      if (this.closed) return;
      // A probe that timed out while completions kept succeeding waited behind them for a
      // connection or stream (a deployment at full batch): no verdict, the traffic is the proof.
      // (Only a first byte or a finished completion counts; a completion's own timeout does not.)
      if (!ok && timedOut && d.lastSuccessAt >= sentAt) return;
      d.health.onProbe(ok, performance.now(), reason);
      if (d.health.probeSuspect) nextMs = Math.max(50, Math.floor(this.cfg.intervalMs / 4));
    } catch {
      // A bug between probe and verdict must not stop this deployment's probes: no verdict.
    } finally {
      this.schedule(d, nextMs);
    }
  }
}

/**
 * One probe. Any HTTP answer below 500 (except 429) means the server is up and answering: a
 * server without this path (404) still proves that, and marking it down would take a working
 * deployment, and with it the instance's readiness, out of rotation. 5xx, 429, no answer within
 * the timeout, and connection failures are down.
 */
export function probe(
  d: Deployment,
  path: string,
  timeoutMs: number,
): Promise<{ ok: boolean; reason: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const signal = new RequestSignal();
    let settled = false;
    const settle = (ok: boolean, reason: string, timedOut = false): void => {
      if (settled) return;
      settled = true;
      resolve({ ok, reason, timedOut });
    };
    // Also bounds a body that never ends after a good status: the stream is reset then.
    const timer = setTimeout(() => {
      settle(false, `no answer in ${timeoutMs} ms`, true);
      signal.abort(undefined);
    }, timeoutMs);
    timer.unref();
    const { 'content-type': _ignored, ...headers } = d.baseHeaders;
    const handler: UpstreamHandler = {
      onResponseStart(status) {
        if (status < 500 && status !== 429) settle(true, '');
        else settle(false, `${path} answered ${status}`);
      },
      onResponseData: () => true,
      onResponseEnd: () => clearTimeout(timer),
      onResponseError: (err: GatewayError) => {
        clearTimeout(timer);
        settle(false, err.detail ?? err.code);
      },
    };
    try {
      d.dispatcher.dispatch({ method: 'GET', path, headers, body: undefined, signal, probe: true }, handler);
    } catch (err) {
      // Transports report failures through the handler; one that throws cannot send requests
      // either, so the probe fails (instead of rejecting a promise nobody awaits).
      clearTimeout(timer);
      signal.abort(undefined);
      settle(false, `probe could not be sent (${err instanceof Error ? err.message : String(err)})`);
    }
  });
}
