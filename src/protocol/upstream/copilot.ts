import type { UpstreamAdapter } from './adapter.js';
import { completionsBody, CompletionsDecoder } from './openai.js';

/**
 * A Copilot-protocol upstream (`POST {base}/v1/engines/{model}/completions`): another gateway or
 * a server that speaks Copilot's route. OpenAI completions on the wire, model in the path.
 */
export const copilotAdapter: UpstreamAdapter = {
  name: 'copilot',
  responseFormat: 'openai-completions',
  maxChoices: 16,
  needsFimTemplate: false,
  path: (t) =>
    `${t.basePath === '' ? '/v1' : t.basePath}/engines/${encodeURIComponent(t.upstreamModel)}/completions`,
  body: (req, t, passThrough) => completionsBody(req, t, passThrough, { model: false }),
  decoder: () => new CompletionsDecoder(),
};
