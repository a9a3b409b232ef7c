import { errorBody, errorEvent } from '../errors/body.js';
import { GatewayError, toGatewayError } from '../errors/gateway-error.js';
import type { ClientExchange, OutgoingHeaders } from '../server/exchange.js';
import type { RequestContext } from './context.js';

/** Sends a small JSON answer and records the request as finished. */
export function respondJson(
  ex: ClientExchange,
  ctx: RequestContext,
  status: number,
  value: unknown,
  extraHeaders?: OutgoingHeaders,
): void {
  const body = JSON.stringify(value);
  ex.respond(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': ctx.id,
    ...extraHeaders,
  });
  ex.end(body);
  ctx.finish(status, 'ok');
}

/**
 * The one place an error becomes a response: a JSON body before the stream started, an SSE error
 * event after. A client that already left gets nothing and is recorded as 499.
 */
export function respondError(ex: ClientExchange, ctx: RequestContext, thrown: unknown): void {
  const err = toGatewayError(thrown);
  if (err.code === 'GW_CLIENT_CLOSED' || ex.closed) {
    ctx.finish(499, 'client_cancel', 'GW_CLIENT_CLOSED');
    return;
  }
  const outcome = err.code === 'GW_DEADLINE_EXCEEDED' ? 'deadline' : 'error';
  if (ex.headersSent) {
    // Mid-stream: the status line is gone; tell the client in-band and end the stream.
    ex.end(errorEvent(err, ctx.id));
    ctx.finish(err.status, outcome, err.code);
    return;
  }
  const body = errorBody(err, ctx.id);
  const headers: OutgoingHeaders = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': ctx.id,
    // Copilot clients report any non-2xx answer without this header to the user as "does not
    // appear to originate from GitHub (proxy or firewall?)": our errors must read as the service's own.
    'x-github-request-id': ctx.id,
  };
  if (err.retryAfterS !== undefined) headers['retry-after'] = err.retryAfterS;
  const challenge = authChallenge(err);
  if (challenge !== undefined) headers['www-authenticate'] = challenge;
  // An HTTP/1.1 body we did not read to the end leaves the connection unusable.
  // So does one we refused (401) before reading it: better a new connection than draining an upload.
  if (
    ex.protocol === 'h1' &&
    (err.code === 'GW_BODY_TOO_LARGE' ||
      err.code === 'GW_BODY_TIMEOUT' ||
      (err.status === 401 && hasBody(ex)))
  )
    headers['connection'] = 'close';
  ex.respond(err.status, headers);
  ex.end(body);
  ctx.finish(err.status, outcome, err.code);
}

function hasBody(ex: ClientExchange): boolean {
  const length = ex.header('content-length');
  return (length !== undefined && length !== '0') || ex.header('transfer-encoding') !== undefined;
}

/**
 * RFC 6750 §3: a 401 names the scheme the client should use; a bad token also gets
 * error="invalid_token" so clients know to refresh rather than re-prompt the user.
 */
function authChallenge(err: GatewayError): string | undefined {
  if (err.status !== 401) return undefined;
  if (err.code === 'GW_CREDENTIAL_MISSING' || err.code === 'GW_CREDENTIAL_INVALID')
    return 'token realm="ghostwire"';
  if (err.code === 'GW_TOKEN_MISSING') return 'Bearer realm="ghostwire"';
  return `Bearer realm="ghostwire", error="invalid_token", error_description="${err.code}"`;
}

export { GatewayError };
