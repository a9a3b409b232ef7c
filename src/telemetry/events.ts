import diagnostics_channel from 'node:diagnostics_channel';
import type { RequestContext } from '../proxy/context.js';

/**
 * The data path publishes; metrics, logs and the dashboard subscribe. Publishing to a channel
 * with no subscribers is a cheap no-op, so telemetry that is off costs nothing per request.
 */
export const channels = {
  /** A request was accepted and routed to a handler. Message: RequestContext. */
  requestStart: diagnostics_channel.channel('ghostwire:request:start'),
  /**
   * An attempt was sent upstream (ctx.deployment, ctx.region, ctx.retries say which). Message:
   * RequestContext. Subscribers may set ctx.traceparent here: it is read when the upstream
   * headers are built, right after.
   */
  upstreamStart: diagnostics_channel.channel('ghostwire:upstream:start'),
  /** The upstream sent its first byte (ctx.upstreamTtfbMs). Message: RequestContext. */
  upstreamFirstByte: diagnostics_channel.channel('ghostwire:upstream:first-byte'),
  /** A request finished, whatever the outcome (ok, client_cancel, error). Message: RequestContext. */
  requestEnd: diagnostics_channel.channel('ghostwire:request:end'),
  /** The request's signal fired (client went away, deadline). Message: RequestContext. */
  requestAbort: diagnostics_channel.channel('ghostwire:request:abort'),
  /** A deployment's health changed (ejected, half-open, healthy, down). Message: HealthEvent. */
  deploymentHealth: diagnostics_channel.channel('ghostwire:deployment:health'),
  /** A request was sent again after its first attempt failed before any byte reached the client. Message: RetryEvent. */
  requestRetry: diagnostics_channel.channel('ghostwire:request:retry'),
  /** A mirrored (shadow) request ended: answered, failed or cancelled. Message: MirrorEvent. */
  mirrorEnd: diagnostics_channel.channel('ghostwire:mirror:end'),
} as const;

/** Published on deploymentHealth. No request data: names, states and a reason only. */
export interface HealthEvent {
  deployment: string;
  region: string;
  from: string;
  to: string;
  reason: string;
  at: number;
}

/** Published on requestRetry. */
export interface RetryEvent {
  requestId: string;
  from: string;
  to: string;
  reason: string;
}

export type RequestEndMessage = RequestContext;

/** Published on mirrorEnd. Latencies are from the shadow request's own dispatch. */
export interface MirrorEvent {
  requestId: string;
  /** The shadow deployment. */
  deployment: string;
  outcome: 'ok' | 'error' | 'cancelled';
  /** Why it failed: a GW_ code, or HTTP_<status> for an answer other than 200. */
  code: string | undefined;
  /** The shadow's HTTP status (0: none received). */
  status: number;
  /** To its first body byte; undefined when none came. */
  ttfbMs: number | undefined;
  durationMs: number;
}
