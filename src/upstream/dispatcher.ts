import type { GatewayError } from '../errors/gateway-error.js';
import type { CancelSignal } from '../proxy/request-signal.js';

/** Response headers as both transports hand them over (lower-case names). */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** One request to a model server. The body is complete before dispatch (completion bodies are small). */
export interface UpstreamRequest {
  method: 'POST' | 'GET';
  /** Path and query, starting with '/'. */
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** The request's one cancellation signal: when it fires, the transport resets the upstream stream at once. */
  signal: CancelSignal;
  /**
   * A health probe: it may open a connection even while reconnect backoff makes requests fail
   * fast, so a server that comes back is seen at the next probe, not after the backoff.
   */
  probe?: boolean;
}

/**
 * The fixed lifecycle of one upstream exchange, in order: onResponseStart once, onResponseData
 * zero or more times, then exactly one of onResponseEnd or onResponseError. After the request's
 * signal has fired, no callback is made: whoever aborted already knows.
 */
export interface UpstreamHandler {
  onResponseStart(status: number, headers: ResponseHeaders): void;
  /** Returns false when the consumer is full; the transport then waits for `resume()`. */
  onResponseData(chunk: Buffer): boolean;
  onResponseEnd(): void;
  onResponseError(err: GatewayError): void;
}

/** Handed back by dispatch: flow control, and a way to end this one exchange early. */
export interface DispatchControl {
  /** The consumer has drained: let data flow again. */
  resume(): void;
  /**
   * The consumer has all it wants (e.g. the gateway hit a stop sequence): reset this upstream
   * stream (HTTP/1.1: abort its request) so the model stops generating. No handler call follows.
   */
  cancel(): void;
}

/** Point-in-time counters of a transport, for tests, readiness and metrics. */
export interface DispatcherStats {
  /** Open connections (HTTP/2 sessions or HTTP/1.1 sockets). */
  connections: number;
  /** Connections opened since start. */
  connectsTotal: number;
  /** Requests currently in flight. */
  active: number;
  /** True while reconnect backoff makes the endpoint fail fast. */
  backingOff: boolean;
  /** Requests sent again after the upstream refused them unprocessed (HTTP/2 only). */
  retriesTotal: number;
  /** Sessions retired before the upstream's rapid-reset guard would have cut them (HTTP/2 only). */
  rotationsTotal: number;
  /** Requests waiting for a connection or stream slot. */
  queued: number;
}

/** Everything that sends a request upstream has this one shape (after undici's Dispatcher). */
export interface Dispatcher {
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): DispatchControl;
  /** Requests in flight right now (cheap: read on every routing decision). */
  readonly inflight: number;
  /**
   * False while the transport fails fast: its last connect failed, or its connection was lost
   * without GOAWAY, and the backoff has not elapsed. Retries avoid such deployments.
   */
  readonly reachable: boolean;
  stats(): DispatcherStats;
  /** Graceful: lets in-flight requests finish, then closes connections. */
  close(): Promise<void>;
  /** Immediate: resets everything. */
  destroy(): void;
}
