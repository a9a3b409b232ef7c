import type { CompletionRequest, EventSink } from '../model.js';
import { SseDecoder } from '../sse.js';
import type { UpstreamAdapter } from './adapter.js';
import { inBandError, parseEvent } from './openai.js';

/**
 * llama.cpp's server (`POST {base}/infill`): prefix and suffix as separate fields, and the
 * server applies the model's own FIM tokens (read from the GGUF), so no template is needed here.
 * One choice per request. The stream is SSE `data: {"content":…,"stop":false}` events and a final
 * `"stop":true` object with why it stopped; there is no `[DONE]`.
 */
export const llamacppAdapter: UpstreamAdapter = {
  name: 'llamacpp',
  responseFormat: 'llamacpp',
  maxChoices: 1,
  needsFimTemplate: false,
  path: (t) => `${t.basePath}/infill`,
  body: (req) => Buffer.from(JSON.stringify(infillBody(req))),
  decoder: () => new LlamacppDecoder(),
};

/**
 * The /infill body. `input_extra` (other files' text as context) is not sent: the request model
 * carries no such context, and the current file's name alone is not what the field is for.
 */
function infillBody(req: CompletionRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    input_prefix: req.prompt,
    input_suffix: req.suffix ?? '',
    // -1: until the model stops (the server's own cap still applies).
    n_predict: req.maxTokens ?? -1,
    stream: true,
    // Keep the KV cache of this prompt: the next keystroke's prompt starts the same way.
    cache_prompt: true,
  };
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop.length > 0) body.stop = req.stop;
  // llama.cpp's own shape, [[token, bias], ...]: its servers before mid-2025 take no OpenAI object.
  if (req.logitBias !== undefined)
    body.logit_bias = Object.entries(req.logitBias).map(([token, bias]) => [Number(token), bias]);
  return body;
}

interface LlamaEvent {
  content?: unknown;
  stop?: unknown;
  stop_type?: unknown;
  stopped_limit?: unknown;
  tokens_predicted?: unknown;
  tokens_evaluated?: unknown;
  error?: unknown;
}

/** Reads llama.cpp's native stream: content pieces, the final event's finish and token counts, errors. */
export class LlamacppDecoder extends SseDecoder {
  constructor() {
    super(llamacppEvents);
  }
}

/** The events in one llama.cpp stream payload. */
export function llamacppEvents(data: string, emit: EventSink): void {
  const e = parseEvent(data) as LlamaEvent;
  if (e.error !== undefined) throw inBandError(e.error);
  // The final event of a stream repeats no text (its content is ""), but a piece there is still text.
  if (typeof e.content === 'string' && e.content.length > 0)
    emit({ type: 'text', index: 0, text: e.content });
  if (e.stop !== true) return;
  // stop_type since late 2024; stopped_limit before it.
  const limit = e.stop_type === 'limit' || e.stopped_limit === true;
  emit({ type: 'finish', index: 0, reason: limit ? 'length' : 'stop' });
  if (typeof e.tokens_evaluated === 'number' && typeof e.tokens_predicted === 'number')
    emit({ type: 'usage', promptTokens: e.tokens_evaluated, completionTokens: e.tokens_predicted });
}
