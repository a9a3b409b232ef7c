import { GatewayError } from '../errors/gateway-error.js';
import type { Lease } from '../routing/lease.js';
import type { Model } from '../routing/registry.js';
import type { Router } from '../routing/router.js';
import type { ClientExchange } from '../server/exchange.js';
import { channels, type RetryEvent } from '../telemetry/events.js';
import type { DispatchControl, ResponseHeaders, UpstreamHandler } from '../upstream/dispatcher.js';
import type { RequestContext } from './context.js';
import { respondError } from './respond.js';
import { upstreamBody } from './upstream-body.js';
import { isRetryableError, isRetryableStatus, isServerFailure, statusError } from './upstream-status.js';
import type { CompletionBody } from './validate.js';

/** Content types a completion may arrive in: SSE, JSON, NDJSON. */
const STREAMABLE = /event-stream|json/i;

/** What every attempt of one request shares. */
export interface ForwardRequest {
  readonly ex: ClientExchange;
  readonly ctx: RequestContext;
  readonly router: Router;
  readonly model: Model;
  readonly raw: Buffer;
  readonly body: CompletionBody;
  readonly key: number | undefined;
  readonly retries: boolean;
}

/**
 * One try of a request on one deployment, streaming its answer to the client: bytes go out as
 * they arrive, untouched; a slow client pauses the upstream stream instead of buffering without
 * bound. The client's response headers wait for the first body byte, so an upstream that fails
 * before it (refused, GOAWAY, 502/503, closed early) can be retried once on another deployment,
 * within the deadline and the retry budget, and the client never knows. After the first byte,
 * never. A non-200 answer becomes a gateway error with a stable code; its body is dropped (it may
 * echo prompt text or internal details).
 */
export class Attempt implements UpstreamHandler {
  control: DispatchControl | undefined;
  /** Set once this attempt's outcome is decided: later callbacks (an error body) are ignored. */
  private done = false;
  private contentType = 'text/event-stream';
  private readonly resume = (): void => this.control?.resume();
  private readonly onAbort = (): void => this.aborted();

  constructor(
    private readonly fr: ForwardRequest,
    private readonly lease: Lease,
    private readonly retried: boolean,
  ) {}

  /** Sends this attempt upstream, unless the deadline has already passed. */
  send(): void {
    const { ctx, model, raw, body } = this.fr;
    const target = this.lease.target;
    const d = target.deployment;
    ctx.deployment = d.name;
    if (ctx.signal.aborted) return this.lease.release('neutral');
    let payload: Buffer;
    try {
      payload = upstreamBody(raw, body, d.adapter, model.upstreamModel);
    } catch (err) {
      this.lease.release('neutral'); // the slot must come back whatever went wrong here
      throw err;
    }
    ctx.signal.addEventListener('abort', this.onAbort);
    this.control = d.dispatcher.dispatch(
      {
        method: 'POST',
        path: target.path,
        headers: { ...d.baseHeaders, 'x-request-id': ctx.id },
        body: payload,
        signal: ctx.signal,
      },
      this,
    );
  }

  onResponseStart(status: number, headers: ResponseHeaders): void {
    if (this.done) return;
    if (status !== 200) {
      this.done = true;
      const failure = isServerFailure(status);
      this.finish(failure ? 'failure' : 'success', `answered ${status}`);
      if (isRetryableStatus(status) && this.retry(`answered ${status}`)) return;
      respondError(this.fr.ex, this.fr.ctx, statusError(status));
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
      this.contentType = contentType;
    }
  }

  onResponseData(chunk: Buffer): boolean {
    if (this.done) return true;
    const { ex, ctx } = this.fr;
    if (ctx.chunks === 0) {
      this.lease.firstByte();
      ctx.markFirstByte();
      this.sendHeaders();
    }
    ctx.chunks++;
    ctx.bytesOut += chunk.length;
    const ok = ex.write(chunk);
    if (!ok) ex.onDrain(this.resume);
    return ok;
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.done = true;
    const { ex, ctx } = this.fr;
    if (ctx.chunks === 0) this.sendHeaders();
    ex.end();
    this.finish('success', '');
    ctx.finish(200, 'ok');
  }

  onResponseError(err: GatewayError): void {
    if (this.done) return;
    this.done = true;
    this.finish('failure', err.detail ?? err.code);
    if (this.fr.ctx.chunks === 0 && isRetryableError(err) && this.retry(err.code)) return;
    respondError(this.fr.ex, this.fr.ctx, err);
  }

  private sendHeaders(): void {
    this.fr.ex.respond(200, {
      'content-type': this.contentType,
      'cache-control': 'no-cache',
      'x-request-id': this.fr.ctx.id,
    });
  }

  /** The request's signal fired (client left, deadline): the transport has reset the stream. */
  private aborted(): void {
    if (this.done) return;
    this.done = true;
    // A deadline hit while waiting for the first byte still says how slow this deployment is.
    if ((this.fr.ctx.signal.reason as GatewayError | undefined)?.code === 'GW_DEADLINE_EXCEEDED')
      this.lease.sampleIfSilent();
    this.finish('neutral', 'aborted');
  }

  private finish(outcome: 'success' | 'failure' | 'neutral', reason: string): void {
    this.fr.ctx.signal.removeEventListener('abort', this.onAbort);
    this.lease.release(outcome, reason);
  }

  /** Starts a second attempt elsewhere if this one may be retried; false leaves the error to the caller. */
  private retry(reason: string): boolean {
    const { ctx, router, model, key } = this.fr;
    if (!this.fr.retries || this.retried || ctx.signal.aborted || this.fr.ex.headersSent) return false;
    const failed = this.lease.deployment;
    let next: Lease | undefined;
    try {
      // Only a deployment with room right now: a retry does not queue behind other requests.
      next = router.acquireNow({
        model,
        key,
        exclude: failed,
        signal: ctx.signal,
        deadlineAt: ctx.deadlineAt,
      });
    } catch {
      return false;
    }
    if (next === undefined) return false;
    if (!router.retryBudget.tryRetry(performance.now())) {
      next.release('neutral');
      return false;
    }
    if (channels.requestRetry.hasSubscribers) {
      const event: RetryEvent = { requestId: ctx.id, from: failed.name, to: next.deployment.name, reason };
      channels.requestRetry.publish(event);
    }
    try {
      new Attempt(this.fr, next, true).send();
    } catch (err) {
      // Called from a transport callback: an exception must become the client's error, not a crash.
      respondError(this.fr.ex, ctx, err);
    }
    return true;
  }
}
