import type { UpstreamAdapter } from './adapter.js';
import { fimPrompt, mergeStops } from './fim-prompt.js';
import { completionsBody, CompletionsDecoder, openaiAdapter } from './openai.js';

/** Stops sent to vLLM (it sets no limit of its own; this keeps a request's size bounded). */
const MAX_STOPS = 16;

/**
 * vLLM's OpenAI-compatible completions (`POST {base}/v1/completions`). vLLM refuses `suffix`
 * with a 400, so a fill-in-the-middle request goes as a prompt built with the deployment's FIM
 * template, the template's end-of-fill tokens added to `stop`; `suffix` is never sent. Without a
 * suffix the request is OpenAI's, and the client's bytes are reused when nothing else changes.
 */
export const vllmAdapter: UpstreamAdapter = {
  name: 'vllm',
  responseFormat: 'openai-completions',
  maxChoices: 16,
  needsFimTemplate: true,
  path: (t) => openaiAdapter.path(t),
  body(req, t, passThrough) {
    const fim = fimPrompt(req, t);
    if (fim === undefined) return completionsBody(req, t, passThrough, { model: true });
    return completionsBody(
      req,
      t,
      passThrough,
      { model: true },
      // undefined: JSON.stringify leaves the key out, so no suffix reaches vLLM (not even "").
      { prompt: fim.prompt, suffix: undefined, stop: mergeStops(req.stop, fim.stop, MAX_STOPS) },
    );
  },
  decoder: () => new CompletionsDecoder(),
};
