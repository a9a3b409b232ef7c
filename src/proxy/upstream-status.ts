import { GatewayError } from '../errors/gateway-error.js';

/** Maps an upstream HTTP status to what the client is told. */
export function statusError(status: number): GatewayError {
  const detail = `The model server answered ${status}.`;
  if (status === 429 || status === 503) return new GatewayError('GW_NO_CAPACITY', { detail, retryAfterS: 1 });
  if (status === 408 || status === 504) return new GatewayError('GW_UPSTREAM_TIMEOUT', { detail });
  if (status === 401 || status === 403)
    return new GatewayError('GW_UPSTREAM_ERROR', {
      detail: `The model server refused the gateway's credential (${status}); check the deployment's credential.`,
    });
  if (status >= 400 && status < 500)
    return new GatewayError('GW_UPSTREAM_ERROR', {
      detail: `The model server rejected the request (${status}).`,
      status: 400,
    });
  return new GatewayError('GW_UPSTREAM_ERROR', { detail });
}

/**
 * How a non-200 answer counts for the deployment's health: the server in trouble (5xx, 429), or
 * configured wrong for this deployment (401/403: its credential; 404/405: its URL or model), is a
 * failure; any other 4xx is the request's own fault and says nothing about the server.
 */
export function statusOutcome(status: number): 'failure' | 'neutral' {
  return status >= 500 || status === 429 || (status >= 401 && status <= 405 && status !== 402)
    ? 'failure'
    : 'neutral';
}

/** Answers after which the same request may go to another deployment: nothing was generated. */
export function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503;
}

/** Connect timeouts (HTTP/1.1 via undici, HTTP/2 via the pool): nothing was sent. */
const CONNECT_TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'GW_CONNECT_TIMEOUT']);

/** Transport failures before any response byte: the model never started on this request. */
export function isRetryableError(err: GatewayError): boolean {
  if (err.code === 'GW_UPSTREAM_UNAVAILABLE' || err.code === 'GW_UPSTREAM_CLOSED') return true;
  const cause = (err.cause as { code?: unknown } | undefined)?.code;
  return err.code === 'GW_UPSTREAM_TIMEOUT' && typeof cause === 'string' && CONNECT_TIMEOUTS.has(cause);
}

/** Errors the gateway raised itself (its own transport queue full, shutting down): not the server's fault. */
export function isGatewaySide(err: GatewayError): boolean {
  return err.code === 'GW_NO_CAPACITY' || err.code === 'GW_SHUTTING_DOWN';
}
