import type { ClientProtocol } from './protocol.js';
import { CompletionsEncoder, decodeCompletions } from './openai.js';

/**
 * GitHub Copilot: `POST /v1/engines/{engine}/completions`. On the wire it is OpenAI completions
 * with the model in the path (the engine, a client default that the gateway maps to a real
 * model), streaming unless the body says otherwise, and an `extra` object whose
 * `trim_by_indentation` and `next_indent` the gateway honours (protocol/trim.ts).
 */
export const copilotProtocol: ClientProtocol = {
  name: 'copilot',
  responseFormat: 'openai-completions',
  decode: (input) => decodeCompletions(input, { model: 'path', streamByDefault: true }),
  encoder: (req, meta) => new CompletionsEncoder(req, meta),
};
