import type { CompletionRequest, EventSink } from '../model.js';
import { NdjsonDecoder } from '../sse.js';
import type { UpstreamAdapter } from './adapter.js';
import { inBandError, parseEvent } from './openai.js';

/**
 * Ollama (`POST {base}/api/generate`): the prompt and `suffix`, which Ollama turns into the model's
 * FIM prompt with the template in its Modelfile, so no template is needed here. One choice per
 * request. The stream is NDJSON: `{"response":…,"done":false}` lines and a final `"done":true`
 * line with `done_reason` and the token counts. Ollama has no `logit_bias`: it is not sent.
 */
export const ollamaAdapter: UpstreamAdapter = {
  name: 'ollama',
  responseFormat: 'ollama',
  maxChoices: 1,
  needsFimTemplate: false,
  path: (t) => `${t.basePath}/api/generate`,
  body: (req, t) => Buffer.from(JSON.stringify(generateBody(req, t.upstreamModel))),
  decoder: () => new OllamaDecoder(),
};

function generateBody(req: CompletionRequest, model: string): Record<string, unknown> {
  const options: Record<string, unknown> = { num_predict: req.maxTokens ?? -1 };
  if (req.temperature !== undefined) options.temperature = req.temperature;
  if (req.topP !== undefined) options.top_p = req.topP;
  if (req.stop.length > 0) options.stop = req.stop;
  const body: Record<string, unknown> = { model, prompt: req.prompt };
  if (req.suffix !== undefined) body.suffix = req.suffix;
  // raw: false lets Ollama apply the model's template (its FIM template when there is a suffix).
  body.raw = false;
  body.stream = true;
  body.options = options;
  return body;
}

interface OllamaLine {
  response?: unknown;
  done?: unknown;
  done_reason?: unknown;
  prompt_eval_count?: unknown;
  eval_count?: unknown;
  error?: unknown;
}

/** Reads Ollama's NDJSON stream: text pieces, the final line's finish and token counts, errors. */
export class OllamaDecoder extends NdjsonDecoder {
  constructor() {
    super(ollamaEvents);
  }
}

/** The events in one Ollama NDJSON line. */
export function ollamaEvents(line: string, emit: EventSink): void {
  const e = parseEvent(line) as OllamaLine;
  if (e.error !== undefined) throw inBandError(e.error);
  if (typeof e.response === 'string' && e.response.length > 0)
    emit({ type: 'text', index: 0, text: e.response });
  if (e.done !== true) return;
  emit({ type: 'finish', index: 0, reason: e.done_reason === 'length' ? 'length' : 'stop' });
  // Ollama leaves prompt_eval_count out when the whole prompt came from its cache.
  if (typeof e.eval_count === 'number')
    emit({
      type: 'usage',
      promptTokens: typeof e.prompt_eval_count === 'number' ? e.prompt_eval_count : 0,
      completionTokens: e.eval_count,
    });
}
