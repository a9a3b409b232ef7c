import type { GatewayError } from './gateway-error.js';

/**
 * The one JSON error shape. `error.message` and `error.code` also satisfy OpenAI-style clients,
 * which read `error.message`; `type` mirrors the OpenAI convention of a coarse class.
 */
export function errorBody(err: GatewayError, requestId: string): string {
  return JSON.stringify({
    error: {
      code: err.code,
      message: err.message,
      type: err.status >= 500 ? 'server_error' : 'invalid_request_error',
      status: err.status,
      request_id: requestId,
    },
  });
}

/** The same error as one SSE event, for failures after the stream has started. */
export function errorEvent(err: GatewayError, requestId: string): string {
  return `data: ${errorBody(err, requestId)}\n\n`;
}
