import type { CompletionRequest } from '../model.js';
import { FimChunkEncoder, MISTRAL_MAX_TEMPERATURE } from '../mistral-fim.js';
import {
  booleanField,
  invalid,
  nonNegativeInt,
  numberIn,
  optionalString,
  positiveInt,
  stopField,
} from './fields.js';
import type { ClientProtocol, DecodeInput } from './protocol.js';

/**
 * Codestral-style FIM: `POST /v1/fim/completions` with `model`, `prompt`, `suffix`, `temperature`,
 * `top_p`, `max_tokens`, `min_tokens`, `stream`, `stop`, `random_seed`, as Mistral's API takes it,
 * so editors configured for Mistral (Continue's `mistral` provider, and others) can use the
 * gateway. Answers are chat-shaped (`chat.completion.chunk` deltas, or one `chat.completion`):
 * protocol/mistral-fim.ts. Unknown fields are accepted and ignored; the ranges are Mistral's, so
 * what the gateway accepts a Mistral upstream accepts too.
 */
export const codestralProtocol: ClientProtocol = {
  name: 'codestral',
  responseFormat: 'mistral-fim',
  decode: decodeFim,
  encoder: (req, meta) => new FimChunkEncoder(req, meta),
};

function decodeFim(input: DecodeInput): CompletionRequest {
  const b = input.body;
  const model = optionalString(b.model, 'model');
  if (model === undefined || model.length === 0) throw invalid('"model" is required and must be a string.');
  if (typeof b.prompt !== 'string') throw invalid('"prompt" is required and must be a string.');
  // Read only to be checked: the codestral adapter passes them on, others have no use for them.
  nonNegativeInt(b.min_tokens, 'min_tokens');
  const seed = nonNegativeInt(b.random_seed, 'random_seed');
  return {
    prompt: b.prompt,
    suffix: optionalString(b.suffix, 'suffix'),
    maxTokens: positiveInt(b.max_tokens, 'max_tokens'),
    temperature: numberIn(b.temperature, 'temperature', 0, MISTRAL_MAX_TEMPERATURE),
    topP: numberIn(b.top_p, 'top_p', 0, 1),
    n: 1,
    stop: stopField(b.stop),
    stream: booleanField(b.stream, 'stream', false),
    language: undefined,
    logprobs: undefined,
    seed,
    logitBias: undefined,
    model,
    filepath: undefined,
    extra: undefined,
    client: input.client,
    origin: 'mistral-fim',
    raw: input.raw,
    body: b,
  };
}
