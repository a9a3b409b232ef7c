import type { ChoiceResult, ErrorReply, SimError, WireFormat } from './format.js';
import { completionId, OpenAIEncoder, openai, openAIError } from './openai.js';

// Azure OpenAI completions: POST /openai/deployments/{deployment}/completions?api-version=…, the key
// in an `api-key` header. Bodies and streams are OpenAI's, plus Azure's content-filter annotations;
// refusals made before the model (key, version) have Azure's own shape with a string code.

const API_VERSION = /(?:^|&)api-version=(\d{4}-\d{2}-\d{2}(?:-preview)?)(?:&|$)/;
const ACCESS_DENIED =
  'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.';
const SAFE = { filtered: false, severity: 'safe' };
const FILTER_RESULTS = { hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE };
const PROMPT_FILTER_RESULTS = [{ prompt_index: 0, content_filter_results: FILTER_RESULTS }];
/** Azure's first stream event: the prompt's filter results, with no choices (naive clients trip on it). */
const PROMPT_FILTER_EVENT = `data: ${JSON.stringify({
  choices: [],
  created: 0,
  id: '',
  model: '',
  object: '',
  prompt_filter_results: PROMPT_FILTER_RESULTS,
})}\n\n`;

class AzureEncoder extends OpenAIEncoder {
  #filterSent = false;

  override chunk(index: number, text: string): string {
    return this.#first() + super.chunk(index, text);
  }

  override finish(choice: ChoiceResult, text: string): string {
    return this.#first() + super.finish(choice, text);
  }

  protected override bodyObject(
    choices: readonly ChoiceResult[],
    promptTokens: number,
    completionTokens: number,
  ): Record<string, unknown> {
    return {
      ...super.bodyObject(choices, promptTokens, completionTokens),
      prompt_filter_results: PROMPT_FILTER_RESULTS,
    };
  }

  #first(): string {
    if (this.#filterSent) return '';
    this.#filterSent = true;
    return PROMPT_FILTER_EVENT;
  }
}

function azureError(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** Azure OpenAI's deployment route. */
export const azure: WireFormat<undefined> = {
  ...openai,
  name: 'azure',
  admit(head, apiKey) {
    if (apiKey !== '' && head.headers['api-key'] !== apiKey) {
      return { status: 401, kind: 'unauthorized', message: ACCESS_DENIED, param: null };
    }
    if (!API_VERSION.test(head.query)) {
      return { status: 404, kind: 'not_found', message: 'Resource not found', param: null };
    }
    return undefined;
  },
  encoder(request) {
    return new AzureEncoder(completionId(), request.model);
  },
  error(err: SimError): ErrorReply {
    // What Azure's front door refuses (key, route, version, rate) carries a string code and no type;
    // what the model service refuses is OpenAI's shape.
    if (err.status === 401 || err.status === 404 || err.status === 429) {
      const message = err.kind === 'unauthorized' ? ACCESS_DENIED : err.message;
      return { status: err.status, body: azureError(String(err.status), message) };
    }
    return openAIError(err);
  },
};
