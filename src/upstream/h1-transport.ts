import { Pool, type Dispatcher as UndiciDispatcher } from 'undici';
import type { Endpoint } from './endpoint.js';
import type {
  DispatchControl,
  Dispatcher,
  DispatcherStats,
  UpstreamHandler,
  UpstreamRequest,
} from './dispatcher.js';
import { upstreamFailure } from './errors.js';

export interface Http1TransportOptions {
  maxConnections: number;
  connectTimeoutMs: number;
}

/**
 * HTTP/1.1 upstreams (Ollama, llama.cpp, vLLM without a front proxy) through undici's Pool.
 * HTTP/1.1 can only cancel by closing the connection, so an abort costs that socket; undici
 * opens a fresh one for the next request.
 */
export class Http1Transport implements Dispatcher {
  private readonly pool: Pool;
  private connectsTotal = 0;
  private active = 0;

  constructor(endpoint: Endpoint, opts: Http1TransportOptions) {
    this.pool = new Pool(endpoint.origin, {
      connections: opts.maxConnections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      // The request deadline governs; these only catch a socket that went silent for good.
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
      connect: {
        timeout: opts.connectTimeoutMs,
        ...(endpoint.ca === undefined ? {} : { ca: endpoint.ca }),
        ...(endpoint.servername === undefined ? {} : { servername: endpoint.servername }),
        rejectUnauthorized: endpoint.rejectUnauthorized,
      },
    });
    this.pool.on('connect', () => {
      this.connectsTotal++;
    });
  }

  /** undici reconnects per request; the gateway keeps no connect state for HTTP/1.1. */
  readonly reachable = true;

  get inflight(): number {
    return this.active;
  }

  dispatch(req: UpstreamRequest, handler: UpstreamHandler): DispatchControl {
    const signal = req.signal;
    if (signal.aborted) return { resume() {}, cancel() {} };
    let controller: UndiciDispatcher.DispatchController | undefined;
    let done = false;
    let started = false;
    this.active++;
    const finish = (): void => {
      signal.removeEventListener('abort', onAbort);
      this.active--;
    };
    const onAbort = (): void => {
      if (done) return;
      done = true;
      controller?.abort(new Error('client cancelled'));
    };
    signal.addEventListener('abort', onAbort, { once: true });

    const undiciHandler: UndiciDispatcher.DispatchHandler = {
      onRequestStart(ctl) {
        controller = ctl;
        if (done) ctl.abort(new Error('client cancelled'));
      },
      onResponseStart(ctl, statusCode, headers) {
        if (done) return;
        started = true;
        handler.onResponseStart(statusCode, headers);
      },
      onResponseData(ctl, chunk) {
        if (done) return;
        if (!handler.onResponseData(chunk)) ctl.pause();
      },
      onResponseEnd() {
        finish();
        if (done) return;
        done = true;
        handler.onResponseEnd();
      },
      onResponseError(_ctl, err) {
        finish();
        if (done) return;
        done = true;
        handler.onResponseError(upstreamFailure(err, started));
      },
    };
    this.pool.dispatch(
      { path: req.path, method: req.method, headers: req.headers, body: req.body ?? null },
      undiciHandler,
    );
    return { resume: () => controller?.resume(), cancel: onAbort };
  }

  stats(): DispatcherStats {
    const s = this.pool.stats;
    return {
      connections: s.connected,
      connectsTotal: this.connectsTotal,
      active: this.active,
      backingOff: false,
      retriesTotal: 0,
      rotationsTotal: 0,
      queued: s.pending,
    };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  destroy(): void {
    void this.pool.destroy();
  }
}
