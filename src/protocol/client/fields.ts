import { GatewayError } from '../../errors/gateway-error.js';

/**
 * Field checks shared by the client protocols, each failing with a message that names the field.
 * Unknown fields are accepted (clients add new ones all the time); `null` means "not given".
 */

const MAX_N = 16;
const MAX_STOP = 16;

export function invalid(detail: string): GatewayError {
  return new GatewayError('GW_INVALID_REQUEST', { detail });
}

const given = (v: unknown): boolean => v !== undefined && v !== null;

/** A required string (prompts); an array of strings takes its first (OpenAI batch prompts). */
export function promptField(v: unknown, name: string): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((p) => typeof p === 'string')) return v[0] ?? '';
  if (!given(v)) throw invalid(`"${name}" is required.`);
  throw invalid(`"${name}" must be a string.`);
}

export function optionalString(v: unknown, name: string): string | undefined {
  if (!given(v)) return undefined;
  if (typeof v !== 'string') throw invalid(`"${name}" must be a string.`);
  return v;
}

export function positiveInt(v: unknown, name: string): number | undefined {
  if (!given(v)) return undefined;
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1))
    throw invalid(`"${name}" must be a positive integer.`);
  return v;
}

/** Counts and seeds (Mistral's `min_tokens`, `random_seed`; Tabby's `seed`). */
export function nonNegativeInt(v: unknown, name: string): number | undefined {
  if (!given(v)) return undefined;
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0))
    throw invalid(`"${name}" must be a non-negative integer.`);
  return v;
}

export function numberIn(v: unknown, name: string, min: number, max: number): number | undefined {
  if (!given(v)) return undefined;
  if (!(typeof v === 'number' && v >= min && v <= max))
    throw invalid(`"${name}" must be a number from ${min} to ${max}.`);
  return v;
}

export function choicesField(v: unknown): number {
  if (!given(v)) return 1;
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_N))
    throw invalid(`"n" must be an integer from 1 to ${MAX_N}.`);
  return v;
}

export function stopField(v: unknown): readonly string[] {
  if (!given(v)) return [];
  if (typeof v === 'string') return v.length > 0 ? [v] : [];
  if (Array.isArray(v) && v.length <= MAX_STOP && v.every((s) => typeof s === 'string'))
    return v.filter((s) => s.length > 0);
  throw invalid(`"stop" must be a string or an array of at most ${MAX_STOP} strings.`);
}

export function booleanField(v: unknown, name: string, fallback: boolean): boolean {
  if (!given(v)) return fallback;
  if (typeof v !== 'boolean') throw invalid(`"${name}" must be true or false.`);
  return v;
}

/** OpenAI `logprobs` for completions: an integer 0–5 (true/false from chat clients are tolerated). */
export function logprobsField(v: unknown): number | undefined {
  if (!given(v) || v === false) return undefined;
  if (v === true) return 1;
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 20))
    throw invalid('"logprobs" must be an integer from 0 to 20.');
  return v;
}

/** Token ids OpenAI's tokenizers have fit in 10 digits; a bias map longer than this is not a real one. */
const MAX_LOGIT_BIAS = 1024;

/** OpenAI `logit_bias`: an object of token ids (digits) to numbers from -100 to 100. */
export function logitBiasField(v: unknown): Readonly<Record<string, number>> | undefined {
  if (!given(v)) return undefined;
  const shape = '"logit_bias" must be an object of token ids to numbers from -100 to 100';
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${shape}.`);
  let count = 0;
  for (const [k, bias] of Object.entries(v as Record<string, unknown>)) {
    if (++count > MAX_LOGIT_BIAS) throw invalid(`${shape}, at most ${MAX_LOGIT_BIAS} of them.`);
    if (!/^\d{1,10}$/.test(k) || typeof bias !== 'number' || !(bias >= -100 && bias <= 100))
      throw invalid(`${shape}.`);
  }
  return v as Record<string, number>;
}

export function objectField(v: unknown, name: string): Readonly<Record<string, unknown>> | undefined {
  if (!given(v)) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`"${name}" must be an object.`);
  return v as Record<string, unknown>;
}
