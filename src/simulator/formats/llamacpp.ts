import type { CompletionRequest } from '../request.js';
import { asObject } from './fields.js';
import {
  capTokens,
  DEFAULT_MODEL,
  estimateTokens,
  hasBearer,
  SSE_HEADERS,
  unauthorized,
  type ChoiceResult,
  type ErrorReply,
  type GenerationTiming,
  type Parsed,
  type ResponseEncoder,
  type RouteParams,
  type SimError,
  type WireFormat,
} from './format.js';

// llama.cpp's server (llama-server): POST /infill (input_prefix, input_suffix, input_extra) and
// POST /completion (prompt). A stream is SSE `data: {"content":…,"stop":false,…}` events and a final
// event with "stop":true and the generation's statistics; there is no `data: [DONE]`. Like the real
// server it is lenient: a numeric field of the wrong type is ignored (the default is used), only the
// fields it insists on are refused. One choice per request.

const DEFAULT_TEMPERATURE = 0.8;
const EXTRA_SHAPE = '"input_extra" must be an array of {"filename": string, "text": string}';

/** What the final object echoes under generation_settings (a subset of the real, long list). */
interface LlamaOptions {
  nPredict: number;
  topP: number;
  seed: number;
}

type Body = Readonly<Record<string, unknown>>;

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const int = (v: unknown): number | undefined => (Number.isInteger(v) ? (v as number) : undefined);
const invalid = (message: string): Parsed<LlamaOptions> => ({ ok: false, param: null, message });

/** The sampling fields /infill and /completion share. */
function readCommon(b: Body, route: RouteParams, prompt: string, suffix: string): Parsed<LlamaOptions> {
  const nPredict = int(b.n_predict) ?? int(b.max_tokens) ?? route.maxTokens;
  // LLAMA_DEFAULT_SEED (0xFFFFFFFF, also sent as -1) means "pick one"; the simulator's seed then.
  const seed = int(b.seed);
  const ownSeed = seed === undefined || seed < 0 || seed >= 0xffffffff ? undefined : seed;
  // Only an array counts as `stop`; a string is ignored, as llama.cpp does.
  const stop = Array.isArray(b.stop)
    ? b.stop.filter((s): s is string => typeof s === 'string' && s.length > 0)
    : [];
  const model = typeof b.model === 'string' && b.model.length > 0 ? b.model : DEFAULT_MODEL;
  const request: CompletionRequest = {
    model,
    prompt,
    suffix,
    maxTokens: capTokens(nPredict, route.maxTokens, route.maxTokensCap),
    temperature: Math.max(0, num(b.temperature) ?? DEFAULT_TEMPERATURE),
    n: 1,
    stop,
    stream: typeof b.stream === 'boolean' ? b.stream : route.stream,
    seed: ownSeed,
  };
  return { ok: true, request, options: { nPredict, topP: num(b.top_p) ?? 0.95, seed: seed ?? 0xffffffff } };
}

function parseInfill(body: unknown, route: RouteParams): Parsed<LlamaOptions> {
  const b = asObject(body);
  if (b === undefined) return invalid('the request body must be a JSON object');
  if (b.prompt !== undefined && typeof b.prompt !== 'string') return invalid('"prompt" must be a string');
  if (!('input_prefix' in b)) return invalid('"input_prefix" is required');
  if (!('input_suffix' in b)) return invalid('"input_suffix" is required');
  if (b.input_extra !== undefined) {
    if (!Array.isArray(b.input_extra)) return invalid(EXTRA_SHAPE);
    for (const chunk of b.input_extra) {
      const c = asObject(chunk);
      if (c === undefined || typeof c.text !== 'string') {
        return invalid('extra_context chunk must contain a "text" field with a string value');
      }
      if (c.filename !== undefined && typeof c.filename !== 'string') {
        return invalid('extra_context chunk\'s "filename" field must be a string');
      }
    }
  }
  const prefix = typeof b.input_prefix === 'string' ? b.input_prefix : '';
  const suffix = typeof b.input_suffix === 'string' ? b.input_suffix : '';
  // `prompt` is text already in the middle (after FIM_MID): the model continues prefix + prompt.
  const middle = typeof b.prompt === 'string' ? b.prompt : '';
  return readCommon(b, route, prefix + middle, suffix);
}

function parseCompletion(body: unknown, route: RouteParams): Parsed<LlamaOptions> {
  const b = asObject(body);
  if (b === undefined) return invalid('the request body must be a JSON object');
  let prompt: string;
  if (typeof b.prompt === 'string') prompt = b.prompt;
  else if (Array.isArray(b.prompt) && typeof b.prompt[0] === 'string') prompt = b.prompt[0];
  else if (b.prompt === undefined) return invalid('"prompt" must be provided');
  else return invalid('"prompt" must be a string or an array of strings');
  return readCommon(b, route, prompt, '');
}

/** Encodes llama.cpp's native (non-OpenAI) result objects. */
class LlamaEncoder implements ResponseEncoder {
  readonly streamHeaders = SSE_HEADERS;
  readonly #request: CompletionRequest;
  readonly #options: LlamaOptions;
  readonly #timing: GenerationTiming;
  readonly #promptTokens: number;
  readonly #tail: string;
  #predicted = 0;
  #newLine = false;

  constructor(request: CompletionRequest, options: LlamaOptions, timing: GenerationTiming) {
    this.#request = request;
    this.#options = options;
    this.#timing = timing;
    this.#promptTokens = estimateTokens(request.prompt);
    this.#tail = `,"tokens_evaluated":${this.#promptTokens}}\n\n`;
  }

  chunk(_index: number, text: string): string {
    this.#predicted++;
    if (!this.#newLine && text.includes('\n')) this.#newLine = true;
    return `data: {"index":0,"content":${JSON.stringify(text)},"tokens":[],"stop":false,"id_slot":0,"tokens_predicted":${this.#predicted}${this.#tail}`;
  }

  finish(choice: ChoiceResult, text: string): string {
    const last = text.length > 0 ? this.chunk(choice.index, text) : '';
    // The final event of a stream repeats no text: every piece went out in the partial events.
    return `${last}data: ${JSON.stringify(this.#final(choice, '', this.#newLine))}\n\n`;
  }

  end(): string {
    return '';
  }

  body(choices: readonly ChoiceResult[]): string {
    const choice = choices[0];
    if (choice === undefined) return '{}';
    return JSON.stringify(this.#final(choice, choice.text, choice.text.includes('\n')));
  }

  streamError(message: string): string {
    return `data: ${llamaErrorJson(500, message)}\n\n`;
  }

  #final(choice: ChoiceResult, content: string, hasNewLine: boolean): Record<string, unknown> {
    const request = this.#request;
    const stopType = choice.finishReason === 'length' ? 'limit' : choice.stopWord === '' ? 'eos' : 'word';
    const promptMs = this.#timing.ttftMs;
    const predictedMs = choice.tokens * this.#timing.tokenMs;
    const p = this.#promptTokens;
    return {
      index: 0,
      content,
      tokens: [],
      id_slot: 0,
      stop: true,
      model: request.model,
      tokens_predicted: choice.tokens,
      tokens_evaluated: p,
      generation_settings: {
        n_predict: this.#options.nPredict,
        seed: this.#options.seed,
        temperature: request.temperature,
        top_p: this.#options.topP,
        stop: request.stop,
        stream: request.stream,
      },
      prompt: request.prompt,
      has_new_line: hasNewLine,
      truncated: false,
      stop_type: stopType,
      // Before stop_type (late 2024) llama.cpp sent these booleans; adapters for older servers read them.
      stopped_eos: stopType === 'eos',
      stopped_word: stopType === 'word',
      stopped_limit: stopType === 'limit',
      stopping_word: choice.stopWord,
      tokens_cached: p + choice.tokens,
      timings: {
        cache_n: 0,
        prompt_n: p,
        prompt_ms: promptMs,
        prompt_per_token_ms: p > 0 ? promptMs / p : 0,
        prompt_per_second: promptMs > 0 ? (p * 1000) / promptMs : 0,
        predicted_n: choice.tokens,
        predicted_ms: predictedMs,
        predicted_per_token_ms: choice.tokens > 0 ? predictedMs / choice.tokens : 0,
        predicted_per_second: predictedMs > 0 ? (choice.tokens * 1000) / predictedMs : 0,
      },
    };
  }
}

/** llama.cpp's error object: `{"error":{"code":N,"message","type"}}`, the type following the status. */
function llamaErrorJson(status: number, message: string): string {
  return JSON.stringify({ error: { code: status, message, type: errorType(status) } });
}

function errorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 501:
      return 'not_supported_error';
    case 503:
      return 'unavailable_error';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request_error';
  }
}

const llamaFormat = {
  defaults: { maxTokens: -1, stream: false },
  keepsStopSequence: false,
  admit(head, apiKey) {
    return hasBearer(head, apiKey) ? undefined : unauthorized('Invalid API Key');
  },
  encoder(request, options, timing) {
    return new LlamaEncoder(request, options, timing);
  },
  error(err: SimError): ErrorReply {
    return { status: err.status, body: llamaErrorJson(err.status, err.message) };
  },
} satisfies Omit<WireFormat<LlamaOptions>, 'name' | 'parse'>;

/** llama.cpp `POST /infill`. */
export const llamacppInfill: WireFormat<LlamaOptions> = {
  ...llamaFormat,
  name: 'llamacpp-infill',
  parse: parseInfill,
};

/** llama.cpp `POST /completion`. */
export const llamacppCompletion: WireFormat<LlamaOptions> = {
  ...llamaFormat,
  name: 'llamacpp-completion',
  parse: parseCompletion,
};
