import { GatewayError } from '../errors/gateway-error.js';

/** A parsed JSON object body; each client protocol reads and checks its own fields (protocol/client/). */
export type CompletionBody = Record<string, unknown>;

/** Parses a JSON object body; anything else is GW_INVALID_JSON or GW_INVALID_REQUEST. */
export function parseJsonObject(raw: Buffer): CompletionBody {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new GatewayError('GW_INVALID_JSON', raw.length === 0 ? { detail: 'The body is empty.' } : {});
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('GW_INVALID_REQUEST', { detail: 'The body must be a JSON object.' });
  }
  return value as CompletionBody;
}
