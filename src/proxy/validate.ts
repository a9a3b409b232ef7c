import { GatewayError } from '../errors/gateway-error.js';

/** The fields of a completion body the gateway reads; everything else passes through untouched. */
export interface CompletionBody {
  model?: unknown;
  prompt?: unknown;
  suffix?: unknown;
  max_tokens?: unknown;
  temperature?: unknown;
  top_p?: unknown;
  n?: unknown;
  stop?: unknown;
  stream?: unknown;
  [key: string]: unknown;
}

const MAX_N = 16;
const MAX_STOP = 16;

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

function invalid(detail: string): GatewayError {
  return new GatewayError('GW_INVALID_REQUEST', { detail });
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/**
 * Checks the fields the gateway and model servers depend on, with a message naming the field.
 * Unknown fields are accepted (clients add new ones all the time); `null` means "not given".
 */
export function validateCompletionBody(body: CompletionBody, requireModel: boolean): void {
  const { prompt } = body;
  if (prompt === undefined || prompt === null) throw invalid('"prompt" is required.');
  if (typeof prompt !== 'string' && !(Array.isArray(prompt) && prompt.every((p) => typeof p === 'string')))
    throw invalid('"prompt" must be a string.');
  if (requireModel && typeof body.model !== 'string')
    throw invalid('"model" is required and must be a string.');
  if (body.suffix != null && typeof body.suffix !== 'string') throw invalid('"suffix" must be a string.');
  if (body.max_tokens != null && !(isInt(body.max_tokens) && body.max_tokens >= 1))
    throw invalid('"max_tokens" must be a positive integer.');
  if (
    body.temperature != null &&
    !(typeof body.temperature === 'number' && body.temperature >= 0 && body.temperature <= 2)
  )
    throw invalid('"temperature" must be a number from 0 to 2.');
  if (body.top_p != null && !(typeof body.top_p === 'number' && body.top_p >= 0 && body.top_p <= 1))
    throw invalid('"top_p" must be a number from 0 to 1.');
  if (body.n != null && !(isInt(body.n) && body.n >= 1 && body.n <= MAX_N))
    throw invalid(`"n" must be an integer from 1 to ${MAX_N}.`);
  const { stop } = body;
  if (
    stop != null &&
    typeof stop !== 'string' &&
    !(Array.isArray(stop) && stop.length <= MAX_STOP && stop.every((s) => typeof s === 'string'))
  )
    throw invalid(`"stop" must be a string or an array of at most ${MAX_STOP} strings.`);
  if (body.stream != null && typeof body.stream !== 'boolean')
    throw invalid('"stream" must be true or false.');
}
