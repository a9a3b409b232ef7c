import { GatewayError } from '../errors/gateway-error.js';

/**
 * Maps a transport failure to a gateway error. Before the response started, the model server was
 * not reached or refused the stream (safe to retry elsewhere); after, the stream was cut short.
 */
export function upstreamFailure(err: unknown, responseStarted: boolean): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const detail = typeof code === 'string' ? `(${code})` : undefined;
  const opts = detail === undefined ? { cause: err } : { cause: err, detail };
  if (responseStarted) return new GatewayError('GW_UPSTREAM_CLOSED', opts);
  if (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'GW_CONNECT_TIMEOUT'
  )
    return new GatewayError('GW_UPSTREAM_TIMEOUT', opts);
  return new GatewayError('GW_UPSTREAM_UNAVAILABLE', opts);
}

/** An Error with a code, for failures the transports detect themselves. */
export function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}
