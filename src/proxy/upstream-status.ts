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

/** Answers that say the model server itself is in trouble (health counts them as failures). */
export function isServerFailure(status: number): boolean {
  return status >= 500 || status === 429 || status === 401 || status === 403;
}

/** Answers after which the same request may go to another deployment: nothing was generated. */
export function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503;
}

/** Transport failures before any response byte: the model never started on this request. */
export function isRetryableError(err: GatewayError): boolean {
  return err.code === 'GW_UPSTREAM_UNAVAILABLE' || err.code === 'GW_UPSTREAM_CLOSED';
}
