import { GatewayError, toGatewayError } from '../errors/gateway-error.js';
import type { ClientProtocol } from '../protocol/client/index.js';
import type { CompletionRequest } from '../protocol/model.js';
import { indentTrimOf } from '../protocol/trim.js';
import type { Lease } from '../routing/lease.js';
import type { Model } from '../routing/registry.js';
import type { Router } from '../routing/router.js';
import type { ClientExchange } from '../server/exchange.js';
import { channels, type RetryEvent } from '../telemetry/events.js';
import type { DispatchControl, ResponseHeaders, UpstreamHandler } from '../upstream/dispatcher.js';
import type { RequestContext } from './context.js';
import { respondError } from './respond.js';
import { PassThroughOut, TranscodeOut, type ResponseOut } from './response-out.js';
import { ScanOut } from './scan-out.js';
import type { StreamDecoder } from '../protocol/upstream/index.js';
import {
  isGatewaySide,
  isRetryableError,
  isRetryableStatus,
  statusError,
  statusOutcome,
} from './upstream-status.js';

/** Content types a completion may arrive in: SSE, JSON, NDJSON. */
const STREAMABLE = /event-stream|json/i;

/** What every attempt of one request shares. */
export interface ForwardRequest {
  readonly ex: ClientExchange;
  readonly ctx: RequestContext;
  readonly router: Router;
  readonly model: Model;
  readonly req: CompletionRequest;
  readonly protocol: ClientProtocol;
  readonly key: number | undefined;
  readonly retries: boolean;
}

/**
 * One try of a request on one deployment, streaming its answer to the client. When the upstream
 * answers in the client's format and the gateway has nothing to change in the text, bytes go out
 * as they arrive, untouched (PassThroughOut); otherwise the stream is decoded, filtered (stop
 * sequences, indentation) and re-encoded for the client (TranscodeOut), and once every choice
 * has stopped in the gateway the upstream is cancelled. A slow client pauses the upstream stream
 * instead of buffering without bound. The client's response headers wait for the first body
 * byte, so an upstream that fails before it (refused, GOAWAY, 502/503, closed early) can be
 * retried once on another deployment, within the deadline and the retry budget, and the client
 * never knows. After the first byte, never. A non-200 answer becomes a gateway error with a
 * stable code; its body is dropped (it may echo prompt text or internal details).
 */
export class Attempt implements UpstreamHandler {
  control: DispatchControl | undefined;
  /** One upstream request per choice, when the server answers one choice per request. */
  private legs: ChoiceLeg[] | undefined;
  /** Set once this attempt's outcome is decided: later callbacks (an error body) are ignored. */
  private done = false;
  private out: ResponseOut | undefined;
  private readonly resume = (): void => this.control?.resume();
  private readonly onAbort = (): void => this.aborted();

  constructor(
    private readonly fr: ForwardRequest,
    private readonly lease: Lease,
    private readonly retried: boolean,
  ) {}

  /** Sends this attempt upstream, unless the deadline has already passed. */
  send(): void {
    const { ctx, req } = this.fr;
    const target = this.lease.target;
    const d = target.deployment;
    ctx.deployment = d.name;
    ctx.region = d.region;
    if (ctx.signal.aborted) return this.lease.release('neutral');
    // A server that answers one choice per request gets one request per choice (fan-out).
    const fanOut = req.n > d.adapter.maxChoices;
    let payloads: Buffer[];
    try {
      if (fanOut && d.adapter.maxChoices !== 1)
        throw new GatewayError('GW_INVALID_REQUEST', {
          detail: `"n" must be at most ${d.adapter.maxChoices} for model ${this.fr.model.name}.`,
        });
      const passThrough = this.planResponse(fanOut);
      if (fanOut) {
        const one: CompletionRequest = { ...req, n: 1 };
        this.legs = Array.from({ length: req.n }, (_, i) => new ChoiceLeg(this, i, d.adapter.decoder(one)));
        payloads = this.legs.map(() => d.adapter.body(one, target.upstream, false));
      } else payloads = [d.adapter.body(req, target.upstream, passThrough)];
    } catch (err) {
      this.lease.release('neutral'); // the slot must come back whatever went wrong here
      throw err;
    }
    ctx.signal.addEventListener('abort', this.onAbort);
    ctx.upstreamStartedAt = performance.now();
    ctx.upstreamTtfbMs = undefined;
    if (this.retried) ctx.retries++;
    if (channels.upstreamStart.hasSubscribers) channels.upstreamStart.publish(ctx);
    const headers: Record<string, string> = { ...d.baseHeaders, 'x-request-id': ctx.id };
    if (ctx.traceparent !== undefined) headers.traceparent = ctx.traceparent;
    try {
      const dispatch = (body: Buffer, handler: UpstreamHandler): DispatchControl =>
        d.dispatcher.dispatch(
          {
            method: 'POST',
            path: target.path,
            headers,
            body,
            signal: ctx.signal,
          },
          handler,
        );
      if (this.legs === undefined) this.control = dispatch(payloads[0] as Buffer, this);
      else {
        const controls = this.legs.map((leg, i) => dispatch(payloads[i] as Buffer, leg));
        this.control = {
          resume: () => controls.forEach((c) => c.resume()),
          cancel: () => controls.forEach((c) => c.cancel()),
        };
      }
    } catch (err) {
      // Transports report failures through the handler; a throw is a bug, but must not keep the slot.
      this.done = true;
      this.finish('neutral', 'dispatch threw');
      throw err;
    }
  }

  /** Fan-out: one choice's upstream answered. A failure of any one fails the request. */
  legStart(status: number, headers: ResponseHeaders): void {
    this.onResponseStart(status, headers);
    if (this.done) this.control?.cancel();
  }

  /** Fan-out: bytes of one choice's stream. */
  legData(leg: ChoiceLeg, chunk: Buffer): boolean {
    if (this.done) return true;
    const { ex, ctx } = this.fr;
    if (ctx.chunks === 0) {
      this.lease.firstByte();
      ctx.markUpstreamFirstByte();
    }
    ctx.chunks++;
    let ok: boolean;
    try {
      ok = (this.out as TranscodeOut).legData(leg.index, leg.decoder, chunk);
    } catch (err) {
      this.failMidStream(err);
      return true;
    }
    if (!ok) ex.onDrain(this.resume);
    return ok;
  }

  /** Fan-out: one choice's stream ended; the request ends with the last one. */
  legEnd(leg: ChoiceLeg): void {
    if (this.done) return;
    leg.ended = true;
    const last = (this.legs ?? []).every((l) => l.ended);
    try {
      (this.out as TranscodeOut).legEnd(leg.index, leg.decoder, last);
    } catch (err) {
      this.failMidStream(err);
      return;
    }
    if (!last || this.done) return;
    this.done = true;
    this.finish('success', '');
    this.fr.ctx.finish(200, 'ok');
  }

  /** Fan-out: one choice's stream failed: the others are cancelled. */
  legError(err: GatewayError): void {
    if (this.done) return;
    this.control?.cancel();
    this.onResponseError(err);
  }

  /**
   * Chooses how the answer reaches the client and returns whether the upstream's bytes pass
   * through: the upstream must answer in the client's own format and the client must want a
   * stream. Then the bytes go out untouched (PassThroughOut), or, when the gateway enforces stop
   * sequences or Copilot's indentation trimming, untouched but watched (ScanOut, OpenAI
   * completions). Otherwise the stream is decoded and re-encoded (TranscodeOut).
   */
  private planResponse(fanOut: boolean): boolean {
    const { ex, ctx, req, protocol, model } = this.fr;
    const d = this.lease.target.deployment;
    const trim = d.enforceStop ? indentTrimOf(req.extra) : undefined;
    const fimStops =
      d.adapter.needsFimTemplate && req.suffix !== undefined ? (d.fimTemplate?.stop ?? []) : [];
    const own = d.enforceStop || d.adapter.keepsStopSequence === true ? req.stop : [];
    const stop = fimStops.length === 0 ? own : [...own, ...fimStops];
    const sameFormat = protocol.responseFormat === d.adapter.responseFormat && req.stream && !fanOut;
    if (sameFormat && stop.length === 0 && trim === undefined) {
      this.out = new PassThroughOut(ex, ctx, 'text/event-stream');
      return true;
    }
    const onAllStopped = (): void => this.stoppedInGateway();
    if (sameFormat && d.adapter.responseFormat === 'openai-completions') {
      this.out = new ScanOut(ex, ctx, { choices: req.n, stop, trim, onAllStopped });
      return true;
    }
    this.out = new TranscodeOut(ex, ctx, {
      decoder: d.adapter.decoder(req),
      encoder: protocol.encoder(req, {
        id: `cmpl-${ctx.id}`,
        created: Math.floor(Date.now() / 1000),
        model: req.model ?? model.name,
      }),
      choices: req.n,
      stop,
      trim,
      onAllStopped,
    });
    return false;
  }

  onResponseStart(status: number, headers: ResponseHeaders): void {
    if (this.done) return;
    if (status !== 200) {
      this.done = true;
      this.finish(statusOutcome(status), `answered ${status}`);
      const err = statusError(status);
      if (isRetryableStatus(status) && this.retry(`answered ${status}`, err)) return;
      respondError(this.fr.ex, this.fr.ctx, err);
      return;
    }
    const contentType = headers['content-type'];
    if (typeof contentType === 'string') {
      if (!STREAMABLE.test(contentType)) {
        // A 200 that is not a completion (an HTML login page, a misrouted URL) must not reach an editor.
        this.done = true;
        this.finish('failure', 'unexpected content type');
        respondError(
          this.fr.ex,
          this.fr.ctx,
          new GatewayError('GW_UPSTREAM_BAD_RESPONSE', {
            detail: `Unexpected content type "${contentType.slice(0, 64)}".`,
          }),
        );
        return;
      }
    }
  }

  onResponseData(chunk: Buffer): boolean {
    if (this.done) return true;
    const { ex, ctx } = this.fr;
    if (ctx.chunks === 0) {
      this.lease.firstByte();
      ctx.markUpstreamFirstByte();
    }
    ctx.chunks++;
    let ok: boolean;
    try {
      ok = (this.out as ResponseOut).data(chunk);
    } catch (err) {
      this.failMidStream(err);
      return true;
    }
    if (!ok) ex.onDrain(this.resume);
    return ok;
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.done = true;
    try {
      (this.out as ResponseOut).end();
    } catch (err) {
      this.done = false;
      this.failMidStream(err);
      return;
    }
    this.finish('success', '');
    this.fr.ctx.finish(200, 'ok');
  }

  onResponseError(err: GatewayError): void {
    if (this.done) return;
    this.done = true;
    this.finish(isGatewaySide(err) ? 'neutral' : 'failure', err.code);
    if (this.fr.ctx.chunks === 0 && isRetryableError(err) && this.retry(err.code, err)) return;
    respondError(this.fr.ex, this.fr.ctx, err);
  }

  /** Every choice stopped in the gateway: the client has its answer; the model can stop. */
  private stoppedInGateway(): void {
    if (this.done) return;
    this.done = true;
    this.control?.cancel();
    this.finish('success', 'stopped by the gateway');
    this.fr.ctx.finish(200, 'ok');
  }

  /** The upstream's stream was not what it should be, or reported an error: cut it, tell the client. */
  private failMidStream(thrown: unknown): void {
    if (this.done) return;
    this.done = true;
    this.control?.cancel();
    const err = toGatewayError(thrown);
    this.finish('failure', err.code);
    respondError(this.fr.ex, this.fr.ctx, err);
  }

  /** The request's signal fired (client left, deadline): the transport has reset the stream. */
  private aborted(): void {
    if (this.done) return;
    this.done = true;
    // A deadline hit while waiting for the first byte: a TTFB sample, never a success (lease.ts).
    const deadline = (this.fr.ctx.signal.reason as GatewayError | undefined)?.code === 'GW_DEADLINE_EXCEEDED';
    if (deadline) this.finish(this.lease.deadlineBeforeFirstByte(), 'no answer before the deadline');
    else this.finish('neutral', 'aborted');
  }

  private finish(outcome: 'success' | 'failure' | 'neutral', reason: string): void {
    this.fr.ctx.signal.removeEventListener('abort', this.onAbort);
    this.lease.release(outcome, reason);
  }

  /**
   * Retries elsewhere if this attempt may be retried, answering the client with `err` when no
   * deployment can take the retry; false (nothing done) when it may not be retried at all.
   * The pick waits for the I/O already received to be handled (setImmediate): when a region's
   * servers die together, the other connections' closes are in the same batch of events, and
   * seeing them first sends the retry to another region instead of a dead sibling.
   */
  private retry(reason: string, err: GatewayError): boolean {
    const { ctx, router, model, key, ex } = this.fr;
    if (!this.fr.retries || this.retried || ctx.signal.aborted || ex.headersSent) return false;
    const failed = this.lease.deployment;
    const failedAt = performance.now();
    setImmediate(() => {
      if (ctx.signal.aborted || ex.closed) return;
      // A healthy deployment with room right now and a transport not failing fast: a retry
      // neither queues nor uses panic routing, and spends budget only when it is sent.
      // After a lost connection (not an answer), siblings in the same region must prove they
      // are alive by having answered since this failure was seen (an answer since the attempt
      // began may predate the crash that took the whole region).
      const lost = err.code === 'GW_UPSTREAM_UNAVAILABLE' || err.code === 'GW_UPSTREAM_CLOSED';
      const next = router.acquireForRetry({
        ...(lost ? { suspectRegion: failed.region, provenSince: failedAt } : {}),
        model,
        key,
        exclude: failed,
        signal: ctx.signal,
        deadlineAt: ctx.deadlineAt,
      });
      if (next === undefined) return respondError(ex, ctx, err);
      if (channels.requestRetry.hasSubscribers) {
        const event: RetryEvent = { requestId: ctx.id, from: failed.name, to: next.deployment.name, reason };
        channels.requestRetry.publish(event);
      }
      try {
        new Attempt(this.fr, next, true).send();
      } catch (thrown) {
        respondError(ex, ctx, thrown);
      }
    });
    return true;
  }
}

/** Fan-out: the handler of one choice's upstream request, passing everything to its Attempt. */
class ChoiceLeg implements UpstreamHandler {
  ended = false;

  constructor(
    private readonly attempt: Attempt,
    readonly index: number,
    readonly decoder: StreamDecoder,
  ) {}

  onResponseStart(status: number, headers: ResponseHeaders): void {
    this.attempt.legStart(status, headers);
  }

  onResponseData(chunk: Buffer): boolean {
    return this.attempt.legData(this, chunk);
  }

  onResponseEnd(): void {
    this.attempt.legEnd(this);
  }

  onResponseError(err: GatewayError): void {
    this.attempt.legError(err);
  }
}
