import { ERROR_TABLE, type ErrorCode } from './codes.js';

/** A failure with a stable code. `detail` is safe to show to the client; `cause` is never sent. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly retryAfterS: number | undefined;

  constructor(
    code: ErrorCode,
    opts: { detail?: string; cause?: unknown; retryAfterS?: number; status?: number } = {},
  ) {
    super(
      opts.detail === undefined ? ERROR_TABLE[code].message : `${ERROR_TABLE[code].message} ${opts.detail}`,
      {
        cause: opts.cause,
      },
    );
    this.name = 'GatewayError';
    this.code = code;
    this.status = opts.status ?? ERROR_TABLE[code].status;
    this.detail = opts.detail;
    this.retryAfterS = opts.retryAfterS;
  }
}

/** Turns anything thrown into a GatewayError; unknown failures become GW_INTERNAL with the original as cause. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('GW_INTERNAL', { cause: err });
}
