import { asObject, FieldReader } from './fields.js';
import {
  capTokens,
  estimateTokens,
  hasBearer,
  SSE_HEADERS,
  unauthorized,
  type ChoiceResult,
  type ErrorReply,
  type Parsed,
  type ResponseEncoder,
  type RouteParams,
  type SimError,
  type WireFormat,
} from './format.js';
import { completionId, SSE_DONE } from './openai.js';

// Mistral's Codestral FIM endpoint: POST /v1/fim/completions {model, prompt, suffix, temperature,
// top_p, max_tokens, min_tokens, stream, stop, random_seed}. Answers are chat-shaped:
// chat.completion.chunk events with choices[0].delta.content, the last with finish_reason and
// usage, then data: [DONE]; a non-streaming answer is a chat.completion with message.content.
// Errors: {"object":"error","message","type","param","code"}; 422 for a body that does not validate,
// unknown fields included. One choice per request; min_tokens is read and checked, not enforced.

const MAX_STOPS = 16;
const DEFAULT_TEMPERATURE = 0.7;
/** Mistral's API forbids fields it does not know (422), unlike OpenAI's: an adapter must not send extras. */
const KNOWN_FIELDS = new Set([
  'model',
  'prompt',
  'suffix',
  'temperature',
  'top_p',
  'max_tokens',
  'min_tokens',
  'stream',
  'stop',
  'random_seed',
  'metadata',
]);

function parseFim(body: unknown, route: RouteParams): Parsed<undefined> {
  const b = asObject(body);
  if (b === undefined) return { ok: false, param: null, message: 'The request body must be a JSON object.' };
  const extra = Object.keys(b).find((key) => !KNOWN_FIELDS.has(key));
  if (extra !== undefined)
    return { ok: false, param: extra, message: `Extra inputs are not permitted: '${extra}'.` };
  const f = new FieldReader(b);
  const model = f.string('model');
  const prompt = f.string('prompt');
  const suffix = f.string('suffix') ?? '';
  const temperature = f.number('temperature', 0, 1.5);
  f.number('top_p', 0, 1);
  const maxTokens = f.int('max_tokens', 0);
  f.int('min_tokens', 0);
  const stream = f.boolean('stream') ?? route.stream;
  const stop = f.stops('stop', MAX_STOPS) ?? [];
  const seed = f.int('random_seed', 0);
  if (f.problem !== undefined) return { ok: false, ...f.problem };
  if (model === undefined || model === '')
    return { ok: false, param: 'model', message: "'model' is required." };
  if (prompt === undefined) return { ok: false, param: 'prompt', message: "'prompt' is required." };
  return {
    ok: true,
    request: {
      model,
      prompt,
      suffix,
      maxTokens: capTokens(maxTokens, route.maxTokens, route.maxTokensCap),
      temperature: temperature ?? DEFAULT_TEMPERATURE,
      n: 1,
      stop,
      stream,
      seed,
    },
    options: undefined,
  };
}

class CodestralEncoder implements ResponseEncoder {
  readonly streamHeaders = SSE_HEADERS;
  readonly #id: string;
  readonly #created: number;
  readonly #model: string;
  readonly #head: string;
  readonly #promptTokens: number;
  #first = true;

  constructor(model: string, promptTokens: number) {
    this.#id = completionId('');
    this.#created = Math.floor(Date.now() / 1000);
    this.#model = model;
    this.#promptTokens = promptTokens;
    this.#head = `data: {"id":${JSON.stringify(this.#id)},"object":"chat.completion.chunk","created":${this.#created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{`;
  }

  chunk(_index: number, text: string): string {
    return `${this.#head}${this.#role()}"content":${JSON.stringify(text)}},"finish_reason":null}]}\n\n`;
  }

  finish(choice: ChoiceResult, text: string): string {
    // Mistral sends the last piece of text with the finish_reason, and usage on that same chunk.
    const usage = JSON.stringify(this.#usage(choice.tokens));
    return `${this.#head}${this.#role()}"content":${JSON.stringify(text)}},"finish_reason":"${choice.finishReason}"}],"usage":${usage}}\n\n`;
  }

  end(): string {
    return SSE_DONE;
  }

  body(choices: readonly ChoiceResult[], _promptTokens: number, completionTokens: number): string {
    return JSON.stringify({
      id: this.#id,
      object: 'chat.completion',
      created: this.#created,
      model: this.#model,
      choices: choices.map((c) => ({
        index: c.index,
        message: { role: 'assistant', content: c.text, tool_calls: null },
        finish_reason: c.finishReason,
      })),
      usage: this.#usage(completionTokens),
    });
  }

  streamError(message: string): string {
    return `data: ${JSON.stringify({ error: errorObject(500, message) })}\n\n`;
  }

  /** The first delta of a stream names the role, as chat streams do. */
  #role(): string {
    if (!this.#first) return '';
    this.#first = false;
    return '"role":"assistant",';
  }

  #usage(completionTokens: number): Record<string, number> {
    const p = this.#promptTokens;
    return { prompt_tokens: p, total_tokens: p + completionTokens, completion_tokens: completionTokens };
  }
}

function errorObject(status: number, message: string): Record<string, unknown> {
  return {
    object: 'error',
    message,
    type: status >= 500 ? 'internal_server_error' : 'invalid_request_error',
    param: null,
    code: null,
  };
}

/** Mistral Codestral `POST /v1/fim/completions`. */
export const codestral: WireFormat<undefined> = {
  name: 'codestral',
  defaults: { maxTokens: -1, stream: false },
  keepsStopSequence: false,
  admit(head, apiKey) {
    return hasBearer(head, apiKey) ? undefined : unauthorized('Unauthorized');
  },
  parse: parseFim,
  encoder(request) {
    return new CodestralEncoder(request.model, estimateTokens(request.prompt + request.suffix));
  },
  error(err: SimError): ErrorReply {
    // Mistral's gateway refuses a bad key before the API does, in its own shape.
    if (err.kind === 'unauthorized') return { status: 401, body: '{"detail":"Unauthorized"}' };
    const status = err.kind === 'invalid_request' || err.kind === 'invalid_json' ? 422 : err.status;
    return { status, body: JSON.stringify(errorObject(status, err.message)) };
  },
};
