import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ErrorCode } from '../errors/codes.js';
import type { ClientProtocolName } from '../protocol/client/protocol.js';
import type { GatewayError } from '../errors/gateway-error.js';
import type { Enrollment } from '../policy/experiments.js';
import { channels } from '../telemetry/events.js';
import { RequestSignal } from './request-signal.js';
import type { TokenMeter } from './token-meter.js';

/** The verified caller, from the gateway token: what policy, rate limits and telemetry key on. */
export interface RequestIdentity {
  readonly uid: string;
  readonly sku: string;
  readonly org: string | undefined;
  /** The token id (`tid`): revocable, and safe to log. */
  readonly tokenId: string;
}

/** How a request ended, for telemetry: a client that left is not an error of ours. */
export type Outcome = 'ok' | 'client_cancel' | 'deadline' | 'superseded' | 'error';

const NO_RULES: readonly string[] = Object.freeze([]);

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * One request's state: its id, its one cancellation signal, its deadline and its timings. The signal is
 * born when the client stream opens and fires when the client resets, the connection closes or
 * the deadline passes; every await downstream takes it.
 */
export class RequestContext {
  readonly id: string;
  readonly startedAt = performance.now();
  readonly protocol: 'h2' | 'h1';
  private readonly requestSignal = new RequestSignal();
  /** One timer per request, due at the body limit while the body is awaited, then at the deadline. */
  private timer: NodeJS.Timeout | undefined;
  private onDeadline: (() => void) | undefined;
  /** performance.now() time by which the body must have arrived (Infinity: no limit, or arrived). */
  private bodyDueAt = Infinity;
  private onBodyTimeout: (() => void) | undefined;
  /** performance.now() time after which the request is worthless (Infinity until armed). */
  deadlineAt = Infinity;
  /** Set by the router: 'completions', 'engines', 'healthz', ... */
  route = '';
  /** The client protocol of a completion (copilot, openai, codestral, tabby), once its body is read. */
  clientProtocol: ClientProtocolName | undefined;
  model: string | undefined;
  /** Names of the rewrite rules that fired for this request, in order (policy.rules). */
  rules: readonly string[] = NO_RULES;
  /** Who sent the request, once its token verified (undefined with auth.mode none). */
  identity: RequestIdentity | undefined;
  deployment: string | undefined;
  /** The region of `deployment` (the last attempt's). */
  region: string | undefined;
  /** The client's `Editor-Version` / `Editor-Plugin-Version` headers, raw (telemetry buckets them). */
  editor: string | undefined;
  plugin: string | undefined;
  /** Milliseconds the request waited for a deployment with room (0: none; undefined: never routed). */
  queueMs: number | undefined;
  /** performance.now() when the last attempt was sent upstream (0: never sent). */
  upstreamStartedAt = 0;
  /** Milliseconds from the last attempt's send to its first upstream byte. */
  upstreamTtfbMs: number | undefined;
  /** Attempts after the first (routing.retries): 0 or 1. */
  retries = 0;
  /**
   * Milliseconds from the moment the request's signal fired to the upstream stream's reset having
   * been issued (the transports reset synchronously in the signal's listeners); undefined when
   * no upstream request was in flight.
   */
  cancelToUpstreamMs: number | undefined;
  /** W3C trace context for the upstream request (set by tracing when it is on). */
  traceparent: string | undefined;
  /** Tracing's per-request state (an open span), opaque to the data path. */
  span: unknown;
  /**
   * The experiment arms the request is in (policy.experiments): `.arms` for log lines, `.label`
   * for the metric label, `.header` as the client saw it; undefined: in none.
   */
  experiments: Enrollment | undefined;
  status = 0;
  outcome: Outcome = 'ok';
  errorCode: ErrorCode | undefined;
  /** Milliseconds from start to the first response byte sent to the client. */
  ttfbMs: number | undefined;
  durationMs: number | undefined;
  chunks = 0;
  bytesOut = 0;
  /** Counts generated tokens; set only when a tokens-per-minute quota applies (policy/limits). */
  tokens: TokenMeter | undefined;
  private finished = false;
  private finishCallbacks: (() => void)[] | undefined;

  constructor(protocol: 'h2' | 'h1', clientRequestId: string | undefined) {
    this.protocol = protocol;
    this.id =
      clientRequestId !== undefined && SAFE_REQUEST_ID.test(clientRequestId) ? clientRequestId : randomUUID();
  }

  get signal(): RequestSignal {
    return this.requestSignal;
  }

  /**
   * Starts the request's clock: `onExpire` runs when `ms` have passed. With `body`, `body.onExpire`
   * runs instead if the request body has not arrived (bodyReceived) within `body.ms`. Both limits
   * share one timer: per request, one setTimeout and one clearTimeout, whatever the outcome.
   */
  armDeadline(ms: number, onExpire: () => void, body?: { ms: number; onExpire: () => void }): void {
    const now = performance.now();
    this.deadlineAt = now + ms;
    this.onDeadline = onExpire;
    let first = ms;
    if (body !== undefined && body.ms < ms) {
      this.bodyDueAt = now + body.ms;
      this.onBodyTimeout = body.onExpire;
      first = body.ms;
    }
    this.timer = setTimeout(this.onTimer, first);
  }

  /** The request body has arrived: its time limit no longer applies (no timer work). */
  bodyReceived(): void {
    this.bodyDueAt = Infinity;
    this.onBodyTimeout = undefined;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    const now = performance.now();
    if (now >= this.bodyDueAt) {
      const expire = this.onBodyTimeout;
      this.bodyReceived();
      expire?.();
      return;
    }
    if (now >= this.deadlineAt) {
      this.onDeadline?.();
      return;
    }
    // Early (the body arrived, or the timer ran a fraction early): wait for whichever is next.
    this.timer = setTimeout(this.onTimer, Math.ceil(Math.min(this.bodyDueAt, this.deadlineAt) - now));
  };

  /**
   * True (and the request expired) when the deadline has passed, even if its timer has not run
   * yet on a busy event loop: checked right before anything is sent upstream.
   */
  expireIfLate(): boolean {
    if (performance.now() < this.deadlineAt) return false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.onDeadline?.();
    return true;
  }

  /** Fires the request's signal once; later calls are ignored. */
  abort(reason: GatewayError): void {
    if (this.requestSignal.aborted) return;
    const inFlight = this.upstreamStartedAt !== 0 && !this.finished;
    const t = inFlight ? performance.now() : 0;
    this.requestSignal.abort(reason);
    if (inFlight) this.cancelToUpstreamMs = performance.now() - t;
    if (channels.requestAbort.hasSubscribers) channels.requestAbort.publish(this);
  }

  /** The last attempt's upstream sent its first byte. */
  markUpstreamFirstByte(): void {
    if (this.upstreamTtfbMs !== undefined) return;
    this.upstreamTtfbMs = performance.now() - this.upstreamStartedAt;
    if (channels.upstreamFirstByte.hasSubscribers) channels.upstreamFirstByte.publish(this);
  }

  markFirstByte(): void {
    if (this.ttfbMs === undefined) this.ttfbMs = performance.now() - this.startedAt;
  }

  /** Calls `cb` once when the request finishes (at most a few per request: kept in an array). */
  onFinish(cb: () => void): void {
    if (this.finished) return cb();
    (this.finishCallbacks ??= []).push(cb);
  }

  /** Records the outcome exactly once and publishes the end event. */
  finish(status: number, outcome: Outcome, code?: ErrorCode): void {
    if (this.finished) return;
    this.finished = true;
    const callbacks = this.finishCallbacks;
    this.finishCallbacks = undefined;
    if (callbacks !== undefined) for (const cb of callbacks) cb();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.status = status;
    this.outcome = outcome;
    this.errorCode = code;
    this.durationMs = performance.now() - this.startedAt;
    if (channels.requestEnd.hasSubscribers) channels.requestEnd.publish(this);
  }

  get isFinished(): boolean {
    return this.finished;
  }
}
