import type { CompletionRequest } from '../model.js';
import { FimChunkDecoder, MISTRAL_FIM_FIELDS, MISTRAL_MAX_TEMPERATURE } from '../mistral-fim.js';
import type { UpstreamAdapter, UpstreamTarget } from './adapter.js';

/**
 * Mistral Codestral (`POST {base}/v1/fim/completions`), or any server speaking its FIM route.
 * Mistral refuses unknown body fields with a 422, so the body holds its known fields only; the
 * answer is chat-shaped (protocol/mistral-fim.ts), one choice per request. A Codestral client's
 * own bytes are sent as they came when they already are such a body for this model.
 */
export const codestralAdapter: UpstreamAdapter = {
  name: 'codestral',
  responseFormat: 'mistral-fim',
  maxChoices: 1,
  needsFimTemplate: false,
  path: (t) => `${t.basePath === '' ? '/v1' : t.basePath}/fim/completions`,
  body: (req, t) =>
    req.raw !== undefined && reusable(req.body, t) ? req.raw : Buffer.from(JSON.stringify(fimBody(req, t))),
  decoder: () => new FimChunkDecoder(),
};

/**
 * The body for Mistral: model, prompt and suffix, the sampling fields, stop, and always a stream
 * (in pass-through too: the client asked for one, or the answer would not pass through).
 * `min_tokens` is taken from the client's body when it has it; the seed is the request's
 * (`random_seed` from Codestral clients, `seed` from OpenAI and Tabby ones, or a rewrite rule's).
 * A temperature above Mistral's range is lowered to its maximum rather than refused. Mistral
 * has no `logit_bias`: it is not sent.
 */
function fimBody(req: CompletionRequest, t: UpstreamTarget): Record<string, unknown> {
  const b = req.body;
  const out: Record<string, unknown> = { model: t.upstreamModel, prompt: req.prompt };
  if (req.suffix !== undefined) out.suffix = req.suffix;
  if (req.maxTokens !== undefined) out.max_tokens = req.maxTokens;
  if (req.temperature !== undefined) out.temperature = Math.min(req.temperature, MISTRAL_MAX_TEMPERATURE);
  if (req.topP !== undefined) out.top_p = req.topP;
  if (req.stop.length > 0) out.stop = req.stop;
  if (isCount(b.min_tokens)) out.min_tokens = b.min_tokens;
  if (isCount(req.seed)) out.random_seed = req.seed;
  out.stream = true;
  return out;
}

/**
 * Whether the client's bytes can go as they are: only Mistral's fields, none null, the model this
 * upstream knows, a string prompt, a stream asked for, and a temperature Mistral takes. This is
 * the common Codestral-client case and saves re-serialising a prompt of many kilobytes.
 */
function reusable(b: Readonly<Record<string, unknown>>, t: UpstreamTarget): boolean {
  if (b.model !== t.upstreamModel || b.stream !== true || typeof b.prompt !== 'string') return false;
  for (const key in b) if (!MISTRAL_FIM_FIELDS.has(key) || b[key] === null) return false;
  return !(typeof b.temperature === 'number' && b.temperature > MISTRAL_MAX_TEMPERATURE);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
