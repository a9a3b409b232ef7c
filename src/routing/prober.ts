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
    const timer = setTimeout(() => {
      void probe(d, d.probePath as string, this.cfg.timeoutMs).then(({ ok, reason }) => {
        if (this.closed) return;
        d.health.onProbe(ok, performance.now(), reason);
        const suspect = d.health.probeSuspect;
        this.schedule(d, suspect ? Math.max(50, Math.floor(this.cfg.intervalMs / 4)) : this.cfg.intervalMs);
      });
    }, ms);
    timer.unref();
    this.timers.set(d, timer);
  }
}

/** One probe: ok on a 2xx within the timeout; the reason says what went wrong otherwise. */
export function probe(
  d: Deployment,
  path: string,
  timeoutMs: number,
): Promise<{ ok: boolean; reason: string }> {
  return new Promise((resolve) => {
    const signal = new RequestSignal();
    let settled = false;
    const settle = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      resolve({ ok, reason });
    };
    // Also bounds a body that never ends after a good status: the stream is reset then.
    const timer = setTimeout(() => {
      settle(false, `no answer in ${timeoutMs} ms`);
      signal.abort(undefined);
    }, timeoutMs);
    timer.unref();
    const { 'content-type': _ignored, ...headers } = d.baseHeaders;
    const handler: UpstreamHandler = {
      onResponseStart(status) {
        if (status >= 200 && status < 300) settle(true, '');
        else if (status === 404)
          settle(
            false,
            `${path} answered 404: set deployments[].healthCheck.path to a route this server has`,
          );
        else settle(false, `${path} answered ${status}`);
      },
      onResponseData: () => true,
      onResponseEnd: () => clearTimeout(timer),
      onResponseError: (err: GatewayError) => {
        clearTimeout(timer);
        settle(false, err.detail ?? err.code);
      },
    };
    d.dispatcher.dispatch({ method: 'GET', path, headers, body: undefined, signal, probe: true }, handler);
  });
}
