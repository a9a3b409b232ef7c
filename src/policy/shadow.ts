import { performance } from 'node:perf_hooks';
import type { GatewayError } from '../errors/gateway-error.js';
import type { RequestContext } from '../proxy/context.js';
import type { Target } from '../routing/registry.js';
import { channels, type MirrorEvent } from '../telemetry/events.js';
import type { DispatchControl, ResponseHeaders, UpstreamHandler } from '../upstream/dispatcher.js';

/** The request header that marks a shadow request (another ghostwire never mirrors it again). */
export const SHADOW_HEADER = 'x-ghostwire-shadow';

/** Latency of shadow requests: enough for a mean and a worst case; histograms subscribe to mirrorEnd. */
export interface LatencySummary {
  count: number;
  sumMs: number;
  maxMs: number;
}

/** What one shadow deployment has seen, since start. */
export interface MirrorStats {
  /** Matching requests the sample picked. */
  sampledTotal: number;
  /** Shadow requests sent. */
  sentTotal: number;
  /**
   * Picked but not sent: maxInFlight reached, the primary already cancelled, more choices (`n`)
   * than the shadow's adapter takes in one request, or a body that could not be built.
   */
  droppedTotal: number;
  /** Answered 200 and read to the end. */
  okTotal: number;
  /** Failed: a status other than 200, a transport failure, or no end by the request's deadline. */
  errorsTotal: number;
  /** Failures by code (GW_… or HTTP_<status>). */
  errors: Record<string, number>;
  /** Reset because the primary was cancelled (client gone, deadline, superseded). */
  cancelledTotal: number;
  inFlight: number;
  /** Dispatch to first body byte. */
  ttfbMs: LatencySummary;
  /** Dispatch to the end of the answer (answered ones only). */
  durationMs: LatencySummary;
}

/** Counters of one shadow deployment, owned by its Mirror. */
export class MirrorCounters {
  readonly stats: MirrorStats = {
    sampledTotal: 0,
    sentTotal: 0,
    droppedTotal: 0,
    okTotal: 0,
    errorsTotal: 0,
    errors: {},
    cancelledTotal: 0,
    inFlight: 0,
    ttfbMs: { count: 0, sumMs: 0, maxMs: 0 },
    durationMs: { count: 0, sumMs: 0, maxMs: 0 },
  };

  constructor(readonly deployment: string) {}
}

function add(s: LatencySummary, ms: number): void {
  s.count++;
  s.sumMs += ms;
  if (ms > s.maxMs) s.maxMs = ms;
}

/**
 * One shadow request: the primary's request sent to a shadow deployment, its answer read and
 * dropped. It takes the primary's signal, so a cancelled primary (client gone, deadline,
 * superseded) resets it too; a primary that ends normally leaves it running to its own end,
 * bounded by the request's deadline. It never writes to the client, never touches the router's
 * load or health accounting, and never throws into the primary's path.
 */
export class Shadow implements UpstreamHandler {
  #control: DispatchControl | undefined;
  #timer: NodeJS.Timeout | undefined;
  #status = 0;
  #startedAt = 0;
  #ttfbMs: number | undefined;
  #done = false;
  readonly #onAbort = (): void => this.#end('cancelled', undefined);
  readonly #onDeadline = (): void => {
    this.#timer = undefined;
    this.#control?.cancel();
    this.#end('error', 'GW_DEADLINE_EXCEEDED');
  };

  constructor(
    private readonly counters: MirrorCounters,
    private readonly ctx: RequestContext,
  ) {}

  /** Sends it; failures are recorded, never thrown. */
  send(target: Target, body: Buffer): void {
    const { ctx, counters } = this;
    const d = target.deployment;
    counters.stats.sentTotal++;
    counters.stats.inFlight++;
    this.#startedAt = performance.now();
    ctx.signal.addEventListener('abort', this.#onAbort);
    // Past the primary's deadline the shadow's answer would be worthless to compare.
    this.#timer = setTimeout(this.#onDeadline, Math.max(1, ctx.deadlineAt - this.#startedAt));
    this.#timer.unref();
    try {
      this.#control = d.dispatcher.dispatch(
        {
          method: 'POST',
          path: target.path,
          headers: { ...d.baseHeaders, 'x-request-id': ctx.id, [SHADOW_HEADER]: '1' },
          body,
          // The primary's own signal: a cancelled primary resets the shadow's upstream stream too.
          signal: ctx.signal,
        },
        this,
      );
    } catch {
      // Transports report failures through the handler; a throw is a bug, kept out of the primary.
      this.#end('error', 'GW_INTERNAL');
    }
  }

  onResponseStart(status: number, _headers: ResponseHeaders): void {
    this.#status = status;
  }

  onResponseData(_chunk: Buffer): boolean {
    if (this.#ttfbMs === undefined) this.#ttfbMs = performance.now() - this.#startedAt;
    return true; // read and dropped: never paused
  }

  onResponseEnd(): void {
    if (this.#status === 200) this.#end('ok', undefined);
    else this.#end('error', `HTTP_${this.#status}`);
  }

  onResponseError(err: GatewayError): void {
    this.#end('error', err.code);
  }

  #end(outcome: MirrorEvent['outcome'], code: string | undefined): void {
    if (this.#done) return;
    this.#done = true;
    const durationMs = performance.now() - this.#startedAt;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.ctx.signal.removeEventListener('abort', this.#onAbort);
    const s = this.counters.stats;
    s.inFlight--;
    if (this.#ttfbMs !== undefined) add(s.ttfbMs, this.#ttfbMs);
    if (outcome === 'ok') {
      s.okTotal++;
      add(s.durationMs, durationMs);
    } else if (outcome === 'cancelled') s.cancelledTotal++;
    else {
      s.errorsTotal++;
      const key = code ?? 'unknown';
      s.errors[key] = (s.errors[key] ?? 0) + 1;
    }
    if (channels.mirrorEnd.hasSubscribers) {
      const event: MirrorEvent = {
        requestId: this.ctx.id,
        deployment: this.counters.deployment,
        outcome,
        code,
        status: this.#status,
        ttfbMs: this.#ttfbMs,
        durationMs,
      };
      channels.mirrorEnd.publish(event);
    }
  }
}
